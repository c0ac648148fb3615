package bolt

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

func getKey(tx *bbolt.Tx, id string) (*store.Key, error) { return getKeyWith(tx, id, store.DecodeKey) }

func getKeyWith(tx *bbolt.Tx, id string, decode func([]byte) (*store.Key, error)) (*store.Key, error) {
	buf := tx.Bucket(bKeys).Get([]byte(id))
	if buf == nil {
		return nil, store.ErrNotFound
	}
	k, err := decode(buf)
	if err != nil {
		return nil, fmt.Errorf("decode key %s: %w", id, err)
	}
	return k, nil
}

// createKey stores a new key with the next sequence number and indexes it.
func createKey(tx *bbolt.Tx, k *store.Key) error {
	meta := tx.Bucket(bMeta)
	k.Seq = getUint(meta, kKeySeq)
	if err := meta.Put(kKeySeq, be64(k.Seq+1)); err != nil {
		return err
	}
	if err := tx.Bucket(bKeySeq).Put(be64(k.Seq), []byte(k.ID)); err != nil {
		return err
	}
	if err := addUint(tx.Bucket(bKeyChunks), be64(k.Seq>>chunkBits), 1); err != nil {
		return err
	}
	if err := addUint(meta, kKeyCount, 1); err != nil {
		return err
	}
	return putKey(tx, nil, k)
}

// putKey writes k and moves its deadline and object index entries from
// what old had.
func putKey(tx *bbolt.Tx, old, k *store.Key) error {
	deadlines, objects := tx.Bucket(bDeadlines), tx.Bucket(bKeyObjects)
	if old != nil {
		if d := old.Deadline(); !d.IsZero() {
			if err := deadlines.Delete(timeKey(d, old.ID)); err != nil {
				return err
			}
		}
		for _, o := range old.Objects() {
			if err := objects.Delete([]byte(o)); err != nil {
				return err
			}
		}
	}
	if k == nil {
		return nil
	}
	if d := k.Deadline(); !d.IsZero() {
		if err := deadlines.Put(timeKey(d, k.ID), nil); err != nil {
			return err
		}
	}
	for _, o := range k.Objects() {
		if err := objects.Put([]byte(o), []byte(k.ID)); err != nil {
			return err
		}
	}
	return tx.Bucket(bKeys).Put([]byte(k.ID), store.EncodeKey(k))
}

func (s *Store) CreateKey(ctx context.Context, k *store.Key) error {
	return s.CreateKeys(ctx, []*store.Key{k})
}

func (s *Store) CreateKeys(_ context.Context, keys []*store.Key) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, k := range keys {
			if tx.Bucket(bKeys).Get([]byte(k.ID)) != nil {
				return store.ErrExists
			}
			if err := createKey(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) GetKey(_ context.Context, id string) (k *store.Key, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		k, err = getKey(tx, id)
		return err
	})
	return k, err
}

func (s *Store) GetPrimary(_ context.Context, id string) (k *store.Key, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		k, err = getKeyWith(tx, id, store.DecodePrimary)
		return err
	})
	return k, err
}

func (s *Store) UpdateKey(_ context.Context, id string, fn func(*store.Key) error) (*store.Key, error) {
	return update(s, func(tx *bbolt.Tx) (*store.Key, error) { return getKey(tx, id) }, fn,
		func(tx *bbolt.Tx, old, k *store.Key) error {
			k.ID, k.Seq = id, old.Seq
			return putKey(tx, old, k)
		})
}

func (s *Store) DeleteKey(_ context.Context, id string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		k, err := getKey(tx, id)
		if err != nil {
			return err
		}
		if err := putKey(tx, k, nil); err != nil {
			return err
		}
		if err := tx.Bucket(bKeySeq).Delete(be64(k.Seq)); err != nil {
			return err
		}
		if err := addUint(tx.Bucket(bKeyChunks), be64(k.Seq>>chunkBits), -1); err != nil {
			return err
		}
		if err := addUint(tx.Bucket(bMeta), kKeyCount, -1); err != nil {
			return err
		}
		if err := deleteAliasesOf(tx, id); err != nil {
			return err
		}
		return tx.Bucket(bKeys).Delete([]byte(id))
	})
}

// ListKeys finds the offset by chunk counts (one small entry per 256
// keys) and reads only the page.
func (s *Store) ListKeys(_ context.Context, offset, limit int) (keys []*store.Key, total int, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		total = int(getUint(tx.Bucket(bMeta), kKeyCount))
		if offset >= total || limit <= 0 {
			return nil
		}
		var start []byte
		skip := offset
		chunks := tx.Bucket(bKeyChunks).Cursor()
		for ck, v := chunks.First(); ck != nil; ck, v = chunks.Next() {
			n := int(binary.BigEndian.Uint64(v))
			if skip < n {
				start = be64(binary.BigEndian.Uint64(ck) << chunkBits)
				break
			}
			skip -= n
		}
		c := tx.Bucket(bKeySeq).Cursor()
		for sk, id := c.Seek(start); sk != nil && len(keys) < limit; sk, id = c.Next() {
			if skip > 0 {
				skip--
				continue
			}
			k, err := getKey(tx, string(id))
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return nil
	})
	return keys, total, err
}

func (s *Store) EachKey(_ context.Context, fn func(*store.Key) bool) error {
	return walk(s, bKeySeq, nil, func(tx *bbolt.Tx, _, id []byte) (*store.Key, error) { return getKey(tx, string(id)) }, fn)
}

func (s *Store) DueKeys(_ context.Context, until time.Time, fn func(*store.Key) bool) error {
	stop := timeKey(until, "\xff")
	return walk(s, bDeadlines, stop, func(tx *bbolt.Tx, k, _ []byte) (*store.Key, error) { return getKey(tx, string(k[8:])) }, fn)
}

func (s *Store) KeyObjects(_ context.Context, fn func(object, keyID string) bool) error {
	type ref struct{ object, key string }
	return walk(s, bKeyObjects, nil, func(_ *bbolt.Tx, k, v []byte) (ref, error) { return ref{string(k), string(v)}, nil },
		func(r ref) bool { return fn(r.object, r.key) })
}
