package store

import (
	"bytes"
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
const SchemaVersion = 6

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

	// Schema 4: indexes that keep every operation's cost independent of the
	// number of keys.
	bKeySeq     = []byte("keys_seq")      // seq (8 bytes, big-endian) → id: creation order
	bKeyChunks  = []byte("keys_chunks")   // seq>>chunkBits (8 bytes) → number of keys in that chunk
	bDeadlines  = []byte("key_deadlines") // deadline (8 bytes, ns) || id → nothing
	bKeyObjects = []byte("key_objects")   // token object id → key id
	bWrapExpiry = []byte("wrap_expiry")   // expiry (8 bytes, ns) || id → nothing: issued wrapping keys
	// Added in version 5:
	bAliases  = []byte("aliases") // name → Alias
	kKeySeq   = []byte("key_seq_next")
	kKeyCount = []byte("key_count")
)

// chunkBits: ListKeys finds an offset by summing the counts of chunks of
// 2^chunkBits consecutive sequence numbers, then skipping within one.
const chunkBits = 8

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
	func(tx *bolt.Tx) error { // 3 → 4: compact key records, creation sequence, chunk counts, deadline and object indexes
		for _, b := range [][]byte{bKeySeq, bKeyChunks, bDeadlines, bKeyObjects, bWrapExpiry} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		keys := tx.Bucket(bKeys)
		c := tx.Bucket(bKeysOrder).Cursor()
		for ok, id := c.First(); ok != nil; ok, id = c.Next() {
			k, err := decodeKey(keys.Get(id))
			if err != nil {
				return fmt.Errorf("key %s: %w", id, err)
			}
			if err := createKey(tx, k); err != nil {
				return err
			}
		}
		if err := tx.DeleteBucket(bKeysOrder); err != nil {
			return err
		}
		return tx.Bucket(bIssued).ForEach(func(_, v []byte) error {
			w := new(WrappingKey)
			if err := json.Unmarshal(v, w); err != nil {
				return err
			}
			return indexWrapping(tx, w)
		})
	},
	func(tx *bolt.Tx) error { // 4 → 5: aliases
		_, err := tx.CreateBucketIfNotExists(bAliases)
		return err
	},
	func(tx *bolt.Tx) error { // 5 → 6: the ledger of owned token objects, holding every object referred to
		return ownReferenced(tx, time.Now())
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
	db     *bolt.DB
	leases localLeases
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

// OpenBoltReadOnly opens the store in dir for reading only (`store
// migrate` copies from it and must leave it as it was): it shares the file
// with other readers, and refuses a store of another schema version, which
// only a read-write open would migrate.
func OpenBoltReadOnly(dir string) (*Bolt, error) {
	path := filepath.Join(dir, File)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w in %s", ErrNoStore, dir)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s is in use by another process: stop it first", path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	var version string
	_ = db.View(func(tx *bolt.Tx) error {
		if meta := tx.Bucket(bMeta); meta != nil {
			version = string(meta.Get(kSchema))
		}
		return nil
	})
	if version != strconv.Itoa(SchemaVersion) {
		db.Close()
		return nil, fmt.Errorf("store %s has schema version %q, not %d: start this Keyport on it once (it migrates), then copy it", path, version, SchemaVersion)
	}
	return &Bolt{db: db}, nil
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

// Shared is false: the file is locked to one process.
func (s *Bolt) Shared() bool { return false }

// TryLease takes a lease within this process, the only one on the file.
func (s *Bolt) TryLease(_ context.Context, name string) (func(), bool, error) {
	if !s.leases.take(name) {
		return nil, false, nil
	}
	return func() { s.leases.drop(name) }, true, nil
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

// del deletes id from b, or says ErrNotFound if it is not there.
func del(b *bolt.Bucket, id string) error {
	if b.Get([]byte(id)) == nil {
		return ErrNotFound
	}
	return b.Delete([]byte(id))
}

func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getUint(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// addUint adds d to the counter at k, deleting it at zero.
func addUint(b *bolt.Bucket, k []byte, d int64) error {
	n := int64(getUint(b, k)) + d
	if n <= 0 {
		return b.Delete(k)
	}
	return b.Put(k, be64(uint64(n)))
}

// timeKey is an index key ordered by t, then id.
func timeKey(t time.Time, id string) []byte { return append(be64(uint64(t.UnixNano())), id...) }

func getKey(tx *bolt.Tx, id string) (*Key, error) { return getKeyWith(tx, id, decodeKey) }

func getKeyWith(tx *bolt.Tx, id string, decode func([]byte) (*Key, error)) (*Key, error) {
	buf := tx.Bucket(bKeys).Get([]byte(id))
	if buf == nil {
		return nil, ErrNotFound
	}
	k, err := decode(buf)
	if err != nil {
		return nil, fmt.Errorf("decode key %s: %w", id, err)
	}
	return k, nil
}

// createKey stores a new key with the next sequence number and indexes it.
func createKey(tx *bolt.Tx, k *Key) error {
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
func putKey(tx *bolt.Tx, old, k *Key) error {
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
	return tx.Bucket(bKeys).Put([]byte(k.ID), encodeKey(k))
}

func (s *Bolt) CreateKey(ctx context.Context, k *Key) error {
	return s.CreateKeys(ctx, []*Key{k})
}

func (s *Bolt) CreateKeys(_ context.Context, keys []*Key) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, k := range keys {
			if tx.Bucket(bKeys).Get([]byte(k.ID)) != nil {
				return ErrExists
			}
			if err := createKey(tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Bolt) GetKey(_ context.Context, id string) (k *Key, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, err = getKey(tx, id)
		return err
	})
	return k, err
}

func (s *Bolt) GetPrimary(_ context.Context, id string) (k *Key, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		k, err = getKeyWith(tx, id, decodePrimary)
		return err
	})
	return k, err
}

func (s *Bolt) UpdateKey(_ context.Context, id string, fn func(*Key) error) (k *Key, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		old, err := getKey(tx, id)
		if err != nil {
			return err
		}
		k = new(Key)
		*k = *old
		if err := fn(k); err != nil {
			return err
		}
		k.ID, k.Seq = id, old.Seq
		return putKey(tx, old, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Bolt) DeleteKey(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
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
func (s *Bolt) ListKeys(_ context.Context, offset, limit int) (keys []*Key, total int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
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

// batch is how many records the Each/Due walks hold at once.
const batch = 512

// walk reads an index in batches, each in its own read transaction, and
// calls fn outside them (fn may write): it never holds the whole index.
// next returns, for the index key and value at the cursor, what to call fn
// with and whether to go on.
func walk[T any](s *Bolt, bucket []byte, stop []byte, load func(tx *bolt.Tx, k, v []byte) (T, error), fn func(T) bool) error {
	var from []byte
	for {
		var items []T
		var last []byte
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			k, v := c.First()
			if from != nil {
				k, v = c.Seek(from)
				if k != nil && bytes.Equal(k, from) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(items) < batch; k, v = c.Next() {
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
		if len(items) < batch {
			return nil
		}
		from = last
	}
}

func (s *Bolt) EachKey(_ context.Context, fn func(*Key) bool) error {
	return walk(s, bKeySeq, nil, func(tx *bolt.Tx, _, id []byte) (*Key, error) { return getKey(tx, string(id)) }, fn)
}

func (s *Bolt) DueKeys(_ context.Context, until time.Time, fn func(*Key) bool) error {
	stop := timeKey(until, "\xff")
	return walk(s, bDeadlines, stop, func(tx *bolt.Tx, k, _ []byte) (*Key, error) { return getKey(tx, string(k[8:])) }, fn)
}

func (s *Bolt) KeyObjects(_ context.Context, fn func(object, keyID string) bool) error {
	type ref struct{ object, key string }
	return walk(s, bKeyObjects, nil, func(_ *bolt.Tx, k, v []byte) (ref, error) { return ref{string(k), string(v)}, nil },
		func(r ref) bool { return fn(r.object, r.key) })
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
		return putIssued(tx, nil, w)
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
	return s.db.Update(func(tx *bolt.Tx) error { return putIssued(tx, nil, w) })
}

// putIssued writes an issued wrapping key and moves its expiry index entry.
func putIssued(tx *bolt.Tx, old, w *WrappingKey) error {
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

func indexWrapping(tx *bolt.Tx, w *WrappingKey) error {
	if w.Expires.IsZero() {
		return nil
	}
	return tx.Bucket(bWrapExpiry).Put(timeKey(w.Expires, w.ID), nil)
}

func (s *Bolt) DueWrapping(_ context.Context, until time.Time, fn func(*WrappingKey) bool) error {
	stop := timeKey(until, "\xff")
	return walk(s, bWrapExpiry, stop, func(tx *bolt.Tx, k, _ []byte) (*WrappingKey, error) {
		return get[WrappingKey](tx.Bucket(bIssued), string(k[8:]))
	}, fn)
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
		old, err := get[WrappingKey](tx.Bucket(bIssued), id)
		if err != nil {
			return err
		}
		w = new(WrappingKey)
		*w = *old
		if err := fn(w); err != nil {
			return err
		}
		return putIssued(tx, old, w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Bolt) DeleteWrapping(_ context.Context, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if w, err := get[WrappingKey](tx.Bucket(bIssued), id); err == nil && !w.Expires.IsZero() {
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
	return s.db.Update(func(tx *bolt.Tx) error { return del(tx.Bucket(bAccess), id) })
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

func (s *Bolt) PutAlias(_ context.Context, a *Alias) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAliases)
		if b.Get([]byte(a.Name)) != nil {
			return ErrExists
		}
		return put(b, a.Name, a)
	})
}

func (s *Bolt) SetAlias(_ context.Context, name, keyID string, now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAliases)
		a, err := get[Alias](b, name)
		if err != nil {
			return err
		}
		a.KeyID, a.Updated = keyID, now
		return put(b, name, a)
	})
}

func (s *Bolt) GetAlias(_ context.Context, name string) (a *Alias, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		a, err = get[Alias](tx.Bucket(bAliases), name)
		return err
	})
	return a, err
}

func (s *Bolt) DeleteAlias(_ context.Context, name string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return del(tx.Bucket(bAliases), name) })
}

// ListAliases scans the names under prefix: aliases are few (a handful
// per key at most), so the bucket needs no index by key.
func (s *Bolt) ListAliases(_ context.Context, prefix, keyID string) (out []*Alias, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		out, err = aliasesIn(tx, prefix, keyID)
		return err
	})
	return out, err
}

func aliasesIn(tx *bolt.Tx, prefix, keyID string) (out []*Alias, err error) {
	c := tx.Bucket(bAliases).Cursor()
	for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
		a := new(Alias)
		if err := json.Unmarshal(v, a); err != nil {
			return nil, fmt.Errorf("decode alias %s: %w", k, err)
		}
		if keyID == "" || a.KeyID == keyID {
			out = append(out, a)
		}
	}
	return out, nil
}

func deleteAliasesOf(tx *bolt.Tx, keyID string) error {
	aliases, err := aliasesIn(tx, "", keyID)
	for _, a := range aliases {
		err = errors.Join(err, tx.Bucket(bAliases).Delete([]byte(a.Name)))
	}
	return err
}
