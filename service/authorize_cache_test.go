package service

import (
	"strconv"
	"testing"

	"github.com/keyport-kms/keyport/store"
)

// The compiled key policies stay bounded however many keys come and go.
func TestKeyPolicyCacheBounded(t *testing.T) {
	var c keyPolicyCache
	const doc = `{"Version":"1","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}`
	for i := 0; i < 2*keyPolicyCacheSize; i++ {
		if c.of(&store.Key{ID: strconv.Itoa(i), Policy: doc}) == nil {
			t.Fatal("a policy that parses compiled to nothing")
		}
	}
	if len(c.entries) > keyPolicyCacheSize {
		t.Fatalf("%d entries, the bound is %d", len(c.entries), keyPolicyCacheSize)
	}
	if c.of(&store.Key{ID: "x", Policy: `{"Version":"1"`}) != nil {
		t.Fatal("a policy that does not parse granted something")
	}
}
