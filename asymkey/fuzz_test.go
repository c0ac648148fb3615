package asymkey_test

import (
	"testing"

	"github.com/keyport-kms/keyport/asymkey"
)

// The parsers read bytes callers send (public keys, imported private
// keys): whatever they are given, they return a key or an error, and a
// key they return writes itself back out.
func FuzzParse(f *testing.F) {
	for _, spec := range allSpecs {
		k := must(asymkey.Generate(spec))
		f.Add(must(k.MarshalPKCS8()))
		f.Add(must(k.Public().MarshalPKIX()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := asymkey.ParsePKCS8(b); err == nil {
			if _, err := k.Public().MarshalPKIX(); err != nil {
				t.Fatalf("a parsed private key's public half does not encode: %v", err)
			}
			k.Wipe()
		}
		if p, err := asymkey.ParsePKIX(b); err == nil {
			if _, err := p.MarshalPKIX(); err != nil {
				t.Fatalf("a parsed public key does not encode: %v", err)
			}
		}
	})
}
