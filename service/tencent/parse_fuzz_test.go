package tencent

import (
	"strings"
	"testing"
)

func FuzzParseTC3(f *testing.F) {
	f.Add("TC3-HMAC-SHA256 Credential=ID/2024-01-01/kms/tc3_request, SignedHeaders=content-type;host, Signature=ab")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseTC3(h)
		if err != nil {
			return
		}
		if a.secretID == "" || a.date == "" || a.service == "" || a.signature == "" || strings.Contains(a.secretID, "/") {
			t.Fatalf("accepted %q as %+v", h, a)
		}
	})
}
