package sign

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/test/signers"
)

func TestTC3Verification(t *testing.T) {
	const body = `{"Limit":1}`
	for _, tc := range []struct {
		name, service, signedHost string
	}{
		{"Go SDK: service kms, host with port", "kms", "127.0.0.1:8080"},
		{"Node SDK: service from the endpoint, host without port", "127", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(body))
			r.Host = "127.0.0.1:8080"
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", signers.TC3("AKID", "secret", tc.service, tc.signedHost, "1700000000", "2023-11-14", body))
			a, err := ParseTC3(r.Header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, host := range []string{"127.0.0.1:8080", "127.0.0.1"} {
				want := TC3Signature([]byte("secret"), a, TC3StringToSign(r, a, host, "1700000000", []byte(body)))
				ok = ok || want == a.Signature
			}
			if !ok {
				t.Fatal("signature does not verify")
			}
		})
	}
	for _, bad := range []string{"", "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/kms, SignedHeaders=host, Signature=x",
		"TC3-HMAC-SHA256 Credential=AKID/2023-11-14/kms/tc3_request", "HMAC Credential=AKID/d/s/tc3_request, SignedHeaders=host, Signature=x"} {
		if _, err := ParseTC3(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
