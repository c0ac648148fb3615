package bolt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

// SchemaVersion is the layout this code writes. Open migrates older data
// directories forward and refuses newer ones.
const SchemaVersion = 7

// File is the store's file name in the data directory.
const File = "keyport.db"

var (
	bMeta      = []byte("meta")
	bKeys      = []byte("keys")
	bKeysOrder = []byte("keys_order")  // created (8 bytes, big-endian ns) || id → id
	bPool      = []byte("pool")        // one nested bucket per spec: id → store.WrappingKey
	bIssued    = []byte("issued")      // id → store.WrappingKey
	bAccess    = []byte("access_keys") // id → store.AccessKey
	kSchema    = []byte("schema_version")

	// Schema 4: indexes that keep every operation's cost independent of the
	// number of keys.
	bKeySeq     = []byte("keys_seq")      // seq (8 bytes, big-endian) → id: creation order
	bKeyChunks  = []byte("keys_chunks")   // seq>>chunkBits (8 bytes) → number of keys in that chunk
	bDeadlines  = []byte("key_deadlines") // deadline (8 bytes, ns) || id → nothing
	bKeyObjects = []byte("key_objects")   // token object id → key id
	bWrapExpiry = []byte("wrap_expiry")   // expiry (8 bytes, ns) || id → nothing: issued wrapping keys
	// Added in version 5:
	bAliases = []byte("aliases") // name → store.Alias
	// Added in version 7:
	bUsers    = []byte("users") // name → store.User
	kKeySeq   = []byte("key_seq_next")
	kKeyCount = []byte("key_count")
)

// chunkBits: ListKeys finds an offset by summing the counts of chunks of
// 2^chunkBits consecutive sequence numbers, then skipping within one.
const chunkBits = 8

// migrations[i] brings a store from version i to i+1.
var migrations = []func(tx *bbolt.Tx) error{
	func(tx *bbolt.Tx) error { // 0 → 1: the first layout
		for _, b := range [][]byte{bKeys, bKeysOrder, bPool, bIssued} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	},
	func(tx *bbolt.Tx) error { // 1 → 2: access keys
		_, err := tx.CreateBucketIfNotExists(bAccess)
		return err
	},
	func(tx *bbolt.Tx) error { // 2 → 3: a deployment id; older stores' objects carry legacy labels
		meta := tx.Bucket(bMeta)
		if meta.Get(kSchema) != nil { // not a store created just now
			if err := meta.Put([]byte(store.MetaLegacyObjects), []byte("true")); err != nil {
				return err
			}
		}
		id, err := store.NewDeploymentID()
		if err != nil {
			return err
		}
		return meta.Put([]byte(store.MetaDeployment), []byte(id))
	},
	func(tx *bbolt.Tx) error { // 3 → 4: compact key records, creation sequence, chunk counts, deadline and object indexes
		for _, b := range [][]byte{bKeySeq, bKeyChunks, bDeadlines, bKeyObjects, bWrapExpiry} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		keys := tx.Bucket(bKeys)
		c := tx.Bucket(bKeysOrder).Cursor()
		for ok, id := c.First(); ok != nil; ok, id = c.Next() {
			k, err := store.DecodeKey(keys.Get(id))
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
			w := new(store.WrappingKey)
			if err := json.Unmarshal(v, w); err != nil {
				return err
			}
			return indexWrapping(tx, w)
		})
	},
	func(tx *bbolt.Tx) error { // 4 → 5: aliases
		_, err := tx.CreateBucketIfNotExists(bAliases)
		return err
	},
	func(tx *bbolt.Tx) error { // 5 → 6: the ledger of owned token objects, holding every object referred to
		return ownReferenced(tx, time.Now())
	},
	func(tx *bbolt.Tx) error { // 6 → 7: users
		_, err := tx.CreateBucketIfNotExists(bUsers)
		return err
	},
}

func migrate(db *bbolt.DB) error {
	return db.Update(func(tx *bbolt.Tx) error {
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

// bOwned is the ledger of token objects this store made or adopted
// (schema 6): object id → since (8 bytes, big-endian ns).
var bOwned = []byte("owned_objects")

// ownReferenced records in the ledger every object the store refers to:
// what a store made before the ledger existed made them all (schema 6).
func ownReferenced(tx *bbolt.Tx, at time.Time) error {
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
