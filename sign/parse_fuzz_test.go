package sign

import (
	"strings"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	f.Add("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=host;x-acs-date,Signature=ab")
	f.Add("TC3-HMAC-SHA256 Credential=ID/2024-01-01/kms/tc3_request, SignedHeaders=content-type;host, Signature=ab")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		for _, scheme := range []string{"ACS3-HMAC-SHA256", "TC3-HMAC-SHA256"} {
			fields, err := ParseAuthorization(h, scheme, "Credential", "Signature")
			if err != nil {
				continue
			}
			if !strings.HasPrefix(h, scheme+" ") || fields["Credential"] == "" || fields["Signature"] == "" {
				t.Fatalf("accepted %q for %s: %v", h, scheme, fields)
			}
		}
	})
}

func FuzzParseTC3(f *testing.F) {
	f.Add("TC3-HMAC-SHA256 Credential=ID/2024-01-01/kms/tc3_request, SignedHeaders=content-type;host, Signature=ab")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseTC3(h)
		if err != nil {
			return
		}
		if a.SecretID == "" || a.Date == "" || a.Service == "" || a.Signature == "" || strings.Contains(a.SecretID, "/") {
			t.Fatalf("accepted %q as %+v", h, a)
		}
	})
}
