package bolt_test

import (
	"testing"

	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
	"github.com/keyport-kms/keyport/store/storetest"
)

// The embedded bbolt store passes the store conformance suite.
func TestBoltConformance(t *testing.T) {
	dirs := map[store.Store]string{}
	open := func(t *testing.T, dir string) store.Store {
		s, err := bolt.Create(dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs[s] = dir
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store { return open(t, t.TempDir()) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			s.Close()
			return open(t, dirs[s])
		},
	})
}
