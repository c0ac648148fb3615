package policy

import (
	"net/netip"
	"testing"
)

// Neither parser panics, and whatever parses can be evaluated.
func fuzzParse(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b, KeyPolicyMaxSize)
		if err != nil {
			return
		}
		r := Request{Action: "kms:Decrypt", Resource: Resource{Region: "r", Account: "1", Kind: "key", ID: "k"},
			SourceIP: netip.MustParseAddr("10.1.2.3"), Tags: map[string]string{"a": "b"}}
		_ = Evaluate(r, Named{Name: "fuzz", Doc: d})
	})
}

func FuzzParseRAM(f *testing.F) {
	fuzzParse(f,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`,
		`{"Version":"1","Statement":[{"Effect":"Deny","Action":["kms:Decrypt"],"Resource":["acs:kms:*:*:key/*"],"Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]},"StringLike":{"kms:tag/a":"b*"}}}]}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:*"]},"Action":"kms:*","Resource":"*"}]}`)
}

func FuzzParseCAM(f *testing.F) {
	fuzzParse(f,
		`{"version":"2.0","statement":[{"effect":"allow","action":"name/kms:*","resource":"*"}]}`,
		`{"version":"2.0","statement":[{"effect":"deny","action":["kms:Decrypt"],"resource":["qcs::kms:r:uin/1:key/creatorUin/1/*"],"condition":{"ip_not_equal":{"qcs:ip":"10.0.0.0/8"},"for_any_value:string_equal":{"qcs:resource_tag":"a&b"}}}]}`)
}
