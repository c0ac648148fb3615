package tencent

import "testing"

// FuzzKeyOfResource: a resource name or id yields a key id or an error,
// never a panic, and only something shaped like a key id.
func FuzzKeyOfResource(f *testing.F) {
	f.Add("qcs::kms:ap-guangzhou:uin/:key/creatorUin/1/0f8a6b1e-0000-4000-8000-000000000000")
	f.Add("creatorUin/0/0f8a6b1e-0000-4000-8000-000000000000")
	f.Add("qcs::cvm:x:key/")
	f.Fuzz(func(t *testing.T, r string) {
		id, err := keyOfResource(r)
		if err == nil && !looksLikeKeyID(id) {
			t.Fatalf("%q gave key id %q", r, id)
		}
	})
}
