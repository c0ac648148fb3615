package tencent

import "testing"

func TestLooksLikeKeyID(t *testing.T) {
	for s, want := range map[string]bool{
		"00000000-0000-4000-8000-000000000000": true, "ABCDEF01-2345-6789-abcd-ef0123456789": true,
		"": false, "nope": false, "00000000-0000-4000-8000-00000000000g": false, "000000000000-4000-8000-0000000000000": false,
	} {
		if looksLikeKeyID(s) != want {
			t.Errorf("%q: %v", s, !want)
		}
	}
}
