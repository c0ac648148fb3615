package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

// A schema-3 store (JSON records, keys_order) migrates: order, indexes and
// records carry over.
func TestMigrateFromSchema3(t *testing.T) {
	dir := t.TempDir()
	db, err := bbolt.Open(dir+"/"+File, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(bMeta)
		for v := 0; v < 3; v++ {
			if err := migrations[v](tx); err != nil {
				return err
			}
		}
		for i := 0; i < 300; i++ {
			k := &store.Key{ID: fmt.Sprintf("k%03d", 299-i), Created: t0.Add(time.Duration(i) * time.Second), State: "Enabled"}
			if i == 5 {
				k.SealedMat, k.MaterialExp = []byte{1}, t0
			}
			js, _ := json.Marshal(k)
			_ = tx.Bucket(bKeys).Put([]byte(k.ID), js)
			ok := append(be64(uint64(k.Created.UnixNano())), k.ID...)
			_ = tx.Bucket(bKeysOrder).Put(ok, []byte(k.ID))
		}
		w, _ := json.Marshal(&store.WrappingKey{ID: "w", KeyID: "k000", Expires: t0})
		_ = tx.Bucket(bIssued).Put([]byte("w"), w)
		return meta.Put(kSchema, []byte("3"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	page, total, err := s.ListKeys(ctx, 0, 3)
	if err != nil || total != 300 || page[0].ID != "k299" || page[2].ID != "k297" {
		t.Fatalf("after migration: %d keys, %v, %v", total, page, err)
	}
	var due []string
	_ = s.DueKeys(ctx, t0, func(k *store.Key) bool { due = append(due, k.ID); return true })
	var dueW []string
	_ = s.DueWrapping(ctx, t0, func(w *store.WrappingKey) bool { dueW = append(dueW, w.ID); return true })
	if !reflect.DeepEqual(due, []string{"k294"}) || !reflect.DeepEqual(dueW, []string{"w"}) {
		t.Fatalf("indexes after migration: %v %v", due, dueW)
	}
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bKeys).Get([]byte("k000")); v[0] != 0x01 {
			t.Errorf("record not rewritten in the compact form (version byte 1): %q", v[:10])
		}
		if tx.Bucket(bKeysOrder) != nil {
			t.Error("the old order bucket is still there")
		}
		return nil
	})
}
