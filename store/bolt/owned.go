package bolt

import (
	"context"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"
)

func (s *Store) OwnObject(_ context.Context, id string, at time.Time) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bOwned)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		return b.Put([]byte(id), be64(uint64(at.UnixNano())))
	})
}

func (s *Store) DisownObject(_ context.Context, id string) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bOwned).Delete([]byte(id)) })
}

func (s *Store) EachOwned(_ context.Context, fn func(id string, since time.Time) bool) error {
	type entry struct {
		id    string
		since time.Time
	}
	var all []entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bOwned).ForEach(func(k, v []byte) error {
			all = append(all, entry{string(k), time.Unix(0, int64(binary.BigEndian.Uint64(v)))})
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, e := range all {
		if !fn(e.id, e.since) {
			break
		}
	}
	return nil
}
