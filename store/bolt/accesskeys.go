package bolt

import (
	"context"
	"encoding/json"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

// bucketOf is a bucket of JSON records by name: what access keys and users
// are, and all they need.
type bucketOf[T any] struct {
	s    *Store
	name []byte
}

func (b bucketOf[T]) create(id string, v *T) error {
	return b.s.db.Update(func(tx *bbolt.Tx) error {
		bk := tx.Bucket(b.name)
		if bk.Get([]byte(id)) != nil {
			return store.ErrExists
		}
		return put(bk, id, v)
	})
}

func (b bucketOf[T]) get(id string) (v *T, err error) {
	err = b.s.db.View(func(tx *bbolt.Tx) error {
		v, err = get[T](tx.Bucket(b.name), id)
		return err
	})
	return v, err
}

func (b bucketOf[T]) update(id string, fn func(*T) error) (*T, error) {
	return update(b.s, func(tx *bbolt.Tx) (*T, error) { return get[T](tx.Bucket(b.name), id) }, fn,
		func(tx *bbolt.Tx, _, v *T) error { return put(tx.Bucket(b.name), id, v) })
}

func (b bucketOf[T]) delete(id string) error {
	return b.s.db.Update(func(tx *bbolt.Tx) error { return del(tx.Bucket(b.name), id) })
}

// list returns every record in key order.
func (b bucketOf[T]) list() (out []*T, err error) {
	err = b.s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(b.name).ForEach(func(_, buf []byte) error {
			v := new(T)
			if err := json.Unmarshal(buf, v); err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	})
	return out, err
}

func (s *Store) accessKeys() bucketOf[store.AccessKey] { return bucketOf[store.AccessKey]{s, bAccess} }

func (s *Store) PutAccessKey(_ context.Context, a *store.AccessKey) error {
	return s.accessKeys().create(a.ID, a)
}

func (s *Store) GetAccessKey(_ context.Context, id string) (*store.AccessKey, error) {
	return s.accessKeys().get(id)
}

func (s *Store) UpdateAccessKey(_ context.Context, id string, fn func(*store.AccessKey) error) (*store.AccessKey, error) {
	return s.accessKeys().update(id, fn)
}

func (s *Store) DeleteAccessKey(_ context.Context, id string) error { return s.accessKeys().delete(id) }

func (s *Store) ListAccessKeys(_ context.Context) ([]*store.AccessKey, error) {
	return s.accessKeys().list()
}
