package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this code writes. Open migrates older data
// directories forward and refuses newer ones.
const SchemaVersion = 3

// File is the store's file name in the data directory.
const File = "keyport.db"

var (
	bMeta      = []byte("meta")
	bKeys      = []byte("keys")
	bKeysOrder = []byte("keys_order")  // created (8 bytes, big-endian ns) || id → id
	bPool      = []byte("pool")        // one nested bucket per spec: id → WrappingKey
	bIssued    = []byte("issued")      // id → WrappingKey
	bAccess    = []byte("access_keys") // id → AccessKey
	kSchema    = []byte("schema_version")
)

// migrations[i] brings a store from version i to i+1.
var migrations = []func(tx *bolt.Tx) error{
	func(tx *bolt.Tx) error { // 0 → 1: the first layout
		for _, b := range [][]byte{bKeys, bKeysOrder, bPool, bIssued} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	func(tx *bolt.Tx) error { // 1 → 2: access keys
		_, err := tx.CreateBucketIfNotExists(bAccess)
		return err
	},
	func(tx *bolt.Tx) error { // 2 → 3: a deployment id; older stores' objects carry legacy labels
		meta := tx.Bucket(bMeta)
		if meta.Get(kSchema) != nil { // not a store created just now
			if err := meta.Put([]byte(MetaLegacyObjects), []byte("true")); err != nil {
				return err
			}
		}
		id, err := NewDeploymentID()
		if err != nil {
			return err
		}
		return meta.Put([]byte(MetaDeployment), []byte(id))
	},
}

// NewDeploymentID returns a random deployment id: 16 lower-case hex digits.
func NewDeploymentID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("deployment id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Bolt is the embedded store: one bbolt file in the data directory. Every
// write transaction is fsynced before it returns, so what it acknowledged
// survives kill -9 and power loss.
type Bolt struct {
	db *bolt.DB
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens the store in dir, which must exist: every command but
// `serve` works on a store that is there, so that a mistyped directory is
// an error, not a new empty deployment.
func OpenBolt(dir string) (*Bolt, error) {
	path := filepath.Join(dir, File)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w in %s", ErrNoStore, dir)
	}
	return openBolt(path)
}

// CreateBolt opens the store in dir or, where dir is missing or empty,
// creates a new one (a new deployment). A directory that holds other files
// but no store is refused: it is not the data directory the caller meant.
func CreateBolt(dir string) (*Bolt, error) {
	path := filepath.Join(dir, File)
	if _, err := os.Stat(path); err == nil {
		return openBolt(path)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	case len(entries) > 0:
		return nil, fmt.Errorf("%w in %s, and it is not empty: give an empty or missing directory for a new store", ErrNoStore, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	return openBolt(path)
}

func openBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s is in use by another process", path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

func migrate(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		version := 0
		if v := meta.Get(kSchema); v != nil {
			if version, err = strconv.Atoi(string(v)); err != nil {
				return fmt.Errorf("bad schema version %q", v)
			}
		}
		if version > SchemaVersion {
			return fmt.Errorf("schema version %d is newer than this Keyport understands (%d)", version, SchemaVersion)
		}
		for ; version < SchemaVersion; version++ {
			if err := migrations[version](tx); err != nil {
				return fmt.Errorf("migrate schema %d → %d: %w", version, version+1, err)
			}
		}
		return meta.Put(kSchema, []byte(strconv.Itoa(SchemaVersion)))
	})
}

// Close closes the file.
func (s *Bolt) Close() error { return s.db.Close() }

func put(b *bolt.Bucket, id string, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), buf)
}

func get[T any](b *bolt.Bucket, id string) (*T, error) {
	buf := b.Get([]byte(id))
	if buf == nil {
		return nil, ErrNotFound
	}
	v := new(T)
	if err := json.Unmarshal(buf, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", id, err)
	}
	return v, nil
}

func orderKey(k *Key) []byte {
	ok := make([]byte, 8, 8+len(k.ID))
	binary.BigEndian.PutUint64(ok, uint64(k.Created.UnixNano()))
	return append(ok, k.ID...)
}

func (s *Bolt) CreateKey(_ context.Context, k *Key) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bKeys)
		if b.Get([]byte(k.ID)) != nil {
			return ErrExists
		}
		if err := tx.Bucket(bKeysOrder).Put(orderKey(k), []byte(k.ID)); err != nil {
			return err
		}
		return put(b, k.ID, k)
	})
}

func (s *Bolt) GetKey(_ context.Context, id string) (k *Key, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, err = get[Key](tx.Bucket(bKeys), id)
		return err
	})
	return k, err
}

func (s *Bolt) UpdateKey(_ context.Context, id string, fn func(*Key) error) (k *Key, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bKeys)
		if k, err = get[Key](b, id); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		k.ID = id
		return put(b, id, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Bolt) DeleteKey(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bKeys)
		k, err := get[Key](b, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bKeysOrder).Delete(orderKey(k)); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
}

func (s *Bolt) ListKeys(_ context.Context, offset, limit int) (keys []*Key, total int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		order := tx.Bucket(bKeysOrder)
		total = order.Stats().KeyN
		b := tx.Bucket(bKeys)
		c := order.Cursor()
		i := 0
		for ok, id := c.First(); ok != nil && len(keys) < limit; ok, id = c.Next() {
			if i++; i <= offset {
				continue
			}
			k, err := get[Key](b, string(id))
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return nil
	})
	return keys, total, err
}

func (s *Bolt) EachKey(_ context.Context, fn func(*Key) bool) error {
	var keys []*Key
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bKeys).ForEach(func(_, v []byte) error {
			k := new(Key)
			if err := json.Unmarshal(v, k); err != nil {
				return err
			}
			keys = append(keys, k)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, k := range keys { // outside the transaction: fn may write
		if !fn(k) {
			break
		}
	}
	return nil
}

func (s *Bolt) AddPooled(_ context.Context, w *WrappingKey) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bPool).CreateBucketIfNotExists([]byte(w.Spec))
		if err != nil {
			return err
		}
		return put(b, w.ID, w)
	})
}

func (s *Bolt) ClaimPooled(_ context.Context, spec string, bind func(*WrappingKey)) (w *WrappingKey, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bPool).Bucket([]byte(spec))
		if b == nil {
			return ErrPoolEmpty
		}
		id, buf := b.Cursor().First()
		if id == nil {
			return ErrPoolEmpty
		}
		w = new(WrappingKey)
		if err := json.Unmarshal(buf, w); err != nil {
			return fmt.Errorf("decode pooled %s: %w", id, err)
		}
		if err := b.Delete(id); err != nil {
			return err
		}
		bind(w)
		return put(tx.Bucket(bIssued), w.ID, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Bolt) CountPooled(_ context.Context, spec string) (n int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bPool).Bucket([]byte(spec)); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

func (s *Bolt) PutIssued(_ context.Context, w *WrappingKey) error {
	return s.db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket(bIssued), w.ID, w) })
}

func (s *Bolt) GetIssued(_ context.Context, id string) (w *WrappingKey, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		w, err = get[WrappingKey](tx.Bucket(bIssued), id)
		return err
	})
	return w, err
}

func (s *Bolt) UpdateIssued(_ context.Context, id string, fn func(*WrappingKey) error) (w *WrappingKey, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bIssued)
		if w, err = get[WrappingKey](b, id); err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		return put(b, id, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Bolt) DeleteWrapping(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bIssued).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bPool).ForEachBucket(func(spec []byte) error {
			return tx.Bucket(bPool).Bucket(spec).Delete([]byte(id))
		})
	})
}

func (s *Bolt) EachWrapping(_ context.Context, fn func(*WrappingKey) bool) error {
	var all []*WrappingKey
	collect := func(_, v []byte) error {
		w := new(WrappingKey)
		if err := json.Unmarshal(v, w); err != nil {
			return err
		}
		all = append(all, w)
		return nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
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

func (s *Bolt) PutAccessKey(_ context.Context, a *AccessKey) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAccess)
		if b.Get([]byte(a.ID)) != nil {
			return ErrExists
		}
		return put(b, a.ID, a)
	})
}

func (s *Bolt) GetAccessKey(_ context.Context, id string) (a *AccessKey, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		a, err = get[AccessKey](tx.Bucket(bAccess), id)
		return err
	})
	return a, err
}

func (s *Bolt) UpdateAccessKey(_ context.Context, id string, fn func(*AccessKey) error) (a *AccessKey, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAccess)
		if a, err = get[AccessKey](b, id); err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		return put(b, id, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Bolt) DeleteAccessKey(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAccess)
		if b.Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(id))
	})
}

func (s *Bolt) ListAccessKeys(_ context.Context) (out []*AccessKey, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bAccess).ForEach(func(_, v []byte) error {
			a := new(AccessKey)
			if err := json.Unmarshal(v, a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

func (s *Bolt) Meta(_ context.Context, name string) (v string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bMeta).Get([]byte(name)))
		return nil
	})
	return v, err
}

func (s *Bolt) InitMeta(_ context.Context, name, value string) (v string, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
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
