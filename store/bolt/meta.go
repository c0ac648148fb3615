package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"
)

func (s *Store) Meta(_ context.Context, name string) (v string, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		v = string(tx.Bucket(bMeta).Get([]byte(name)))
		return nil
	})
	return v, err
}

func (s *Store) InitMeta(_ context.Context, name, value string) (v string, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bMeta)
		if cur := b.Get([]byte(name)); len(cur) > 0 {
			v = string(cur)
			return nil
		}
		v = value
		return b.Put([]byte(name), []byte(value))
	})
	return v, err
}

// PutMeta sets a setting, or removes it when value is "": for the admin
// commands that stamp a backup and restore one, never for a live store.
func (s *Store) PutMeta(_ context.Context, name, value string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if value == "" {
			return tx.Bucket(bMeta).Delete([]byte(name))
		}
		return tx.Bucket(bMeta).Put([]byte(name), []byte(value))
	})
}
