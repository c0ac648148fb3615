package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

func put(b *bbolt.Bucket, id string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), buf)
}

func get[T any](b *bbolt.Bucket, id string) (*T, error) {
	buf := b.Get([]byte(id))
	if buf == nil {
		return nil, store.ErrNotFound
	}
	v := new(T)
	if err := json.Unmarshal(buf, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", id, err)
	}
	return v, nil
}

// del deletes id from b, or says ErrNotFound if it is not there.
func del(b *bbolt.Bucket, id string) error {
	if b.Get([]byte(id)) == nil {
		return store.ErrNotFound
	}
	return b.Delete([]byte(id))
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getUint(b *bbolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// addUint adds d to the counter at k, deleting it at zero.
func addUint(b *bbolt.Bucket, k []byte, d int64) error {
	n := int64(getUint(b, k)) + d
	if n <= 0 {
		return b.Delete(k)
	}
	return b.Put(k, be64(uint64(n)))
}

// timeKey is an index key ordered by t, then id.
func timeKey(t time.Time, id string) []byte { return append(be64(uint64(t.UnixNano())), id...) }

// walk reads an index in batches, each in its own read transaction, and
// calls fn outside them (fn may write): it never holds the whole index.
// next returns, for the index key and value at the cursor, what to call fn
// with and whether to go on.
func walk[T any](s *Store, bucket []byte, stop []byte, load func(tx *bbolt.Tx, k, v []byte) (T, error), fn func(T) bool) error {
	var from []byte
	for {
		var items []T
		var last []byte
		err := s.db.View(func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
				if k != nil && bytes.Equal(k, from) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(items) < store.Batch; k, v = c.Next() {
				if stop != nil && bytes.Compare(k, stop) > 0 {
					break
				}
				item, err := load(tx, k, v)
				if err != nil {
					return err
				}
				items = append(items, item)
				last = append(last[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if !fn(it) {
				return nil
			}
		}
		if len(items) < store.Batch {
			return nil
		}
		from = last
	}
}

// update is every UpdateX: in one write transaction it loads the record,
// lets fn change a copy (the original stays as it was, for save to move
// index entries from), and saves the copy.
func update[T any](s *Store, load func(*bbolt.Tx) (*T, error), fn func(*T) error, save func(tx *bbolt.Tx, old, v *T) error) (v *T, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		old, err := load(tx)
		if err != nil {
			return err
		}
		v = new(T)
		*v = *old
		if err := fn(v); err != nil {
			return err
		}
		return save(tx, old, v)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
