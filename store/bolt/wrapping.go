package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) AddPooled(_ context.Context, w *store.WrappingKey) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.Bucket(bPool).CreateBucketIfNotExists([]byte(w.Spec))
		if err != nil {
			return err
		}
		return put(b, w.ID, w)
	})
}

func (s *Store) ClaimPooled(_ context.Context, spec string, bind func(*store.WrappingKey)) (w *store.WrappingKey, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bPool).Bucket([]byte(spec))
		if b == nil {
			return store.ErrPoolEmpty
		}
		id, buf := b.Cursor().First()
		if id == nil {
			return store.ErrPoolEmpty
		}
		w = new(store.WrappingKey)
		if err := json.Unmarshal(buf, w); err != nil {
			return fmt.Errorf("decode pooled %s: %w", id, err)
		}
		if err := b.Delete(id); err != nil {
			return err
		}
		bind(w)
		return putIssued(tx, nil, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Store) CountPooled(_ context.Context, spec string) (n int, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bPool).Bucket([]byte(spec)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

func (s *Store) PutIssued(_ context.Context, w *store.WrappingKey) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return putIssued(tx, nil, w) })
}

// putIssued writes an issued wrapping key and moves its expiry index entry.
func putIssued(tx *bbolt.Tx, old, w *store.WrappingKey) error {
	if old != nil && !old.Expires.IsZero() {
		if err := tx.Bucket(bWrapExpiry).Delete(timeKey(old.Expires, old.ID)); err != nil {
			return err
		}
	}
	if err := indexWrapping(tx, w); err != nil {
		return err
	}
	return put(tx.Bucket(bIssued), w.ID, w)
}

func indexWrapping(tx *bbolt.Tx, w *store.WrappingKey) error {
	if w.Expires.IsZero() {
		return nil
	}
	return tx.Bucket(bWrapExpiry).Put(timeKey(w.Expires, w.ID), nil)
}

func (s *Store) DueWrapping(_ context.Context, until time.Time, fn func(*store.WrappingKey) bool) error {
	stop := timeKey(until, "\xff")
	return walk(s, bWrapExpiry, stop, func(tx *bbolt.Tx, k, _ []byte) (*store.WrappingKey, error) {
		return get[store.WrappingKey](tx.Bucket(bIssued), string(k[8:]))
	}, fn)
}

func (s *Store) GetIssued(_ context.Context, id string) (w *store.WrappingKey, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		w, err = get[store.WrappingKey](tx.Bucket(bIssued), id)
		return err
	})
	return w, err
}

func (s *Store) UpdateIssued(_ context.Context, id string, fn func(*store.WrappingKey) error) (*store.WrappingKey, error) {
	return update(s, func(tx *bbolt.Tx) (*store.WrappingKey, error) { return get[store.WrappingKey](tx.Bucket(bIssued), id) }, fn, putIssued)
}

func (s *Store) DeleteWrapping(_ context.Context, id string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if w, err := get[store.WrappingKey](tx.Bucket(bIssued), id); err == nil && !w.Expires.IsZero() {
			if err := tx.Bucket(bWrapExpiry).Delete(timeKey(w.Expires, id)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bIssued).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bPool).ForEachBucket(func(spec []byte) error {
			return tx.Bucket(bPool).Bucket(spec).Delete([]byte(id))
		})
	})
}

func (s *Store) EachWrapping(_ context.Context, fn func(*store.WrappingKey) bool) error {
	var all []*store.WrappingKey
	collect := func(_, v []byte) error {
		w := new(store.WrappingKey)
		if err := json.Unmarshal(v, w); err != nil {
			return err
		}
		all = append(all, w)
		return nil
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bIssued).ForEach(collect); err != nil {
			return err
		}
		return tx.Bucket(bPool).ForEachBucket(func(spec []byte) error {
			return tx.Bucket(bPool).Bucket(spec).ForEach(collect)
		})
	})
	if err != nil {
		return err
	}
	for _, w := range all {
		if !fn(w) {
			break
		}
	}
	return nil
}
