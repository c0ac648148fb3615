package store

import (
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bOwned is the ledger of token objects this store made or adopted
// (schema 6): object id → since (8 bytes, big-endian ns).
var bOwned = []byte("owned_objects")

// ownReferenced records in the ledger every object the store refers to:
// what a store made before the ledger existed made them all (schema 6).
func ownReferenced(tx *bolt.Tx, at time.Time) error {
	owned, err := tx.CreateBucketIfNotExists(bOwned)
	if err != nil {
		return err
	}
	since := be64(uint64(at.UnixNano()))
	put := func(id []byte) error { return owned.Put(append([]byte(nil), id...), since) }
	if err := tx.Bucket(bKeyObjects).ForEach(func(k, _ []byte) error { return put(k) }); err != nil {
		return err
	}
	if err := tx.Bucket(bIssued).ForEach(func(k, _ []byte) error { return put(k) }); err != nil {
		return err
	}
	return tx.Bucket(bPool).ForEachBucket(func(spec []byte) error {
		return tx.Bucket(bPool).Bucket(spec).ForEach(func(k, _ []byte) error { return put(k) })
	})
}

func (s *Bolt) OwnObject(_ context.Context, id string, at time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bOwned)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		return b.Put([]byte(id), be64(uint64(at.UnixNano())))
	})
}

func (s *Bolt) DisownObject(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bOwned).Delete([]byte(id)) })
}

func (s *Bolt) EachOwned(_ context.Context, fn func(id string, since time.Time) bool) error {
	type entry struct {
		id    string
		since time.Time
	}
	var all []entry
	err := s.db.View(func(tx *bolt.Tx) error {
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

// Unretire clears the retired mark (MetaRetired) of an embedded store, for
// an operator rolling a migration back on purpose.
func (s *Bolt) Unretire() error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete([]byte(MetaRetired)) })
}
