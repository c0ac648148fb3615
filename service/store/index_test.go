package store

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Records round-trip through the compact encoding; JSON records of
// schema ≤ 3 still read.
func TestKeyCodec(t *testing.T) {
	k := &Key{ID: "id", VersionID: "v", Spec: "Aliyun_AES_256", Usage: "ENCRYPT/DECRYPT", Origin: "EXTERNAL", Protection: "HSM",
		Description: "d", Alias: "a", Created: time.Unix(1, 2).UTC(), State: "Enabled", DeleteDate: time.Unix(3, 0).UTC(),
		StateBefore: "Disabled", MaterialExp: time.Unix(5, 0).UTC(), Fingerprint: []byte{1, 2}, SealedMat: []byte{3},
		HSMObject: "o", MaterialGen: 7, Seq: 300}
	got, err := decodeKey(encodeKey(k))
	if err != nil || !reflect.DeepEqual(got, k) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	js, _ := json.Marshal(k)
	if old, err := decodeKey(js); err != nil || old.ID != "id" || old.MaterialGen != 7 {
		t.Fatalf("JSON: %+v, %v", old, err)
	}
	if len(encodeKey(k)) >= len(js)/2 {
		t.Errorf("compact %d bytes vs JSON %d", len(encodeKey(k)), len(js))
	}
	for _, bad := range [][]byte{nil, {2}, {recordV1, 1, 5, 'x'}, {recordV1, 9, 1}} {
		if _, err := decodeKey(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

func FuzzDecodeKey(f *testing.F) {
	f.Add(encodeKey(&Key{ID: "x", Created: time.Unix(1, 0), SealedMat: []byte{1}}))
	f.Add([]byte(`{"id":"x"}`))
	f.Add(encodeKey(&Key{ID: "y", Tags: map[string]string{"": "", "a": "b"}, AutoRotate: true, RotationInterval: time.Hour,
		Versions: []KeyVersion{{}, {ID: "v1", Created: time.Unix(2, 0), SealedMat: []byte{2}, HSMObject: "o"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := decodeKey(b)
		if err != nil || len(b) == 0 || b[0] != recordV1 {
			return
		}
		if again, err := decodeKey(encodeKey(k)); err != nil || !reflect.DeepEqual(again, k) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", k, again, err)
		}
	})
}

// A schema-3 store (JSON records, keys_order) migrates: order, indexes and
// records carry over.
func TestMigrateFromSchema3(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(dir+"/"+File, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bMeta)
		for v := 0; v < 3; v++ {
			if err := migrations[v](tx); err != nil {
				return err
			}
		}
		for i := 0; i < 300; i++ {
			k := &Key{ID: fmt.Sprintf("k%03d", 299-i), Created: t0.Add(time.Duration(i) * time.Second), State: "Enabled"}
			if i == 5 {
				k.SealedMat, k.MaterialExp = []byte{1}, t0
			}
			js, _ := json.Marshal(k)
			_ = tx.Bucket(bKeys).Put([]byte(k.ID), js)
			ok := append(be64(uint64(k.Created.UnixNano())), k.ID...)
			_ = tx.Bucket(bKeysOrder).Put(ok, []byte(k.ID))
		}
		w, _ := json.Marshal(&WrappingKey{ID: "w", KeyID: "k000", Expires: t0})
		_ = tx.Bucket(bIssued).Put([]byte("w"), w)
		return meta.Put(kSchema, []byte("3"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenBolt(dir)
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
	_ = s.DueKeys(ctx, t0, func(k *Key) bool { due = append(due, k.ID); return true })
	var dueW []string
	_ = s.DueWrapping(ctx, t0, func(w *WrappingKey) bool { dueW = append(dueW, w.ID); return true })
	if !reflect.DeepEqual(due, []string{"k294"}) || !reflect.DeepEqual(dueW, []string{"w"}) {
		t.Fatalf("indexes after migration: %v %v", due, dueW)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bKeys).Get([]byte("k000")); v[0] != recordV1 {
			t.Errorf("record not rewritten compactly: %q", v[:10])
		}
		if tx.Bucket(bKeysOrder) != nil {
			t.Error("the old order bucket is still there")
		}
		return nil
	})
}
