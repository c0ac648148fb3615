package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) PutAlias(_ context.Context, a *store.Alias) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bAliases)
		if b.Get([]byte(a.Name)) != nil {
			return store.ErrExists
		}
		return put(b, a.Name, a)
	})
}

func (s *Store) SetAlias(_ context.Context, name, keyID string, now time.Time) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bAliases)
		a, err := get[store.Alias](b, name)
		if err != nil {
			return err
		}
		a.KeyID, a.Updated = keyID, now
		return put(b, name, a)
	})
}

func (s *Store) GetAlias(_ context.Context, name string) (a *store.Alias, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		a, err = get[store.Alias](tx.Bucket(bAliases), name)
		return err
	})
	return a, err
}

func (s *Store) DeleteAlias(_ context.Context, name string) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return del(tx.Bucket(bAliases), name) })
}

// ListAliases scans the names under prefix: aliases are few (a handful
// per key at most), so the bucket needs no index by key.
func (s *Store) ListAliases(_ context.Context, prefix, keyID string) (out []*store.Alias, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		out, err = aliasesIn(tx, prefix, keyID)
		return err
	})
	return out, err
}

func aliasesIn(tx *bbolt.Tx, prefix, keyID string) (out []*store.Alias, err error) {
	c := tx.Bucket(bAliases).Cursor()
	for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
		a := new(store.Alias)
		if err := json.Unmarshal(v, a); err != nil {
			return nil, fmt.Errorf("decode alias %s: %w", k, err)
		}
		if keyID == "" || a.KeyID == keyID {
			out = append(out, a)
		}
	}
	return out, nil
}

func deleteAliasesOf(tx *bbolt.Tx, keyID string) error {
	aliases, err := aliasesIn(tx, "", keyID)
	for _, a := range aliases {
		err = errors.Join(err, tx.Bucket(bAliases).Delete([]byte(a.Name)))
	}
	return err
}
