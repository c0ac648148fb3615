package bolt

import (
	"context"
	"encoding/json"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) PutAccessKey(_ context.Context, a *store.AccessKey) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bAccess)
		if b.Get([]byte(a.ID)) != nil {
			return store.ErrExists
		}
		return put(b, a.ID, a)
	})
}

func (s *Store) GetAccessKey(_ context.Context, id string) (a *store.AccessKey, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		a, err = get[store.AccessKey](tx.Bucket(bAccess), id)
		return err
	})
	return a, err
}

func (s *Store) UpdateAccessKey(_ context.Context, id string, fn func(*store.AccessKey) error) (*store.AccessKey, error) {
	return update(s, func(tx *bbolt.Tx) (*store.AccessKey, error) { return get[store.AccessKey](tx.Bucket(bAccess), id) }, fn,
		func(tx *bbolt.Tx, _, a *store.AccessKey) error { return put(tx.Bucket(bAccess), id, a) })
}

func (s *Store) DeleteAccessKey(_ context.Context, id string) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return del(tx.Bucket(bAccess), id) })
}

func (s *Store) ListAccessKeys(_ context.Context) (out []*store.AccessKey, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bAccess).ForEach(func(_, v []byte) error {
			a := new(store.AccessKey)
			if err := json.Unmarshal(v, a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}
