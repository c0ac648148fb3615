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

// Pages are right across chunk boundaries and after deletions, and the
// count stays exact.
func TestListKeysPaging(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	var keys []*Key
	for i := 0; i < 1000; i++ {
		keys = append(keys, &Key{ID: fmt.Sprintf("k%04d", i), Created: time.Unix(int64(i), 0), State: "Enabled"})
	}
	if err := s.CreateKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	live := []string{}
	for i := 0; i < 1000; i++ {
		if i%7 == 3 || (i >= 256 && i < 512) { // every 7th, and one whole chunk
			if err := s.DeleteKey(ctx, fmt.Sprintf("k%04d", i)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		live = append(live, fmt.Sprintf("k%04d", i))
	}
	for _, tc := range []struct{ offset, limit int }{{0, 10}, {250, 20}, {219, 3}, {len(live) - 5, 10}, {len(live), 10}, {100, 0}} {
		got, total, err := s.ListKeys(ctx, tc.offset, tc.limit)
		if err != nil || total != len(live) {
			t.Fatalf("%+v: total %d, %v", tc, total, err)
		}
		want := live[min(tc.offset, len(live)):min(tc.offset+tc.limit, len(live))]
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		if len(ids) != len(want) || (len(want) > 0 && !reflect.DeepEqual(ids, want)) {
			t.Fatalf("%+v: %v, want %v", tc, ids, want)
		}
	}
	n := 0
	if err := s.EachKey(ctx, func(*Key) bool { n++; return true }); err != nil || n != len(live) {
		t.Fatalf("EachKey saw %d of %d: %v", n, len(live), err)
	}
}

// DueKeys and DueWrapping hand over only what is due, earliest first, and
// follow updates; KeyObjects lists the objects keys refer to.
func TestDueIndexes(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	_ = s.CreateKeys(ctx, []*Key{
		{ID: "plain"},
		{ID: "deleting", State: "PendingDeletion", DeleteDate: t0.Add(2 * time.Hour)},
		{ID: "expiring", SealedMat: []byte{1}, MaterialExp: t0.Add(time.Hour)},
		{ID: "in-token", HSMObject: "obj1", MaterialExp: t0.Add(3 * time.Hour)},
		{ID: "no-material-yet", MaterialExp: t0}, // nothing to expire
	})
	due := func(until time.Time) []string {
		var ids []string
		if err := s.DueKeys(ctx, until, func(k *Key) bool { ids = append(ids, k.ID); return true }); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := due(t0.Add(90 * time.Minute)); !reflect.DeepEqual(got, []string{"expiring"}) {
		t.Fatalf("due at +90m: %v", got)
	}
	if got := due(t0.Add(4 * time.Hour)); !reflect.DeepEqual(got, []string{"expiring", "deleting", "in-token"}) {
		t.Fatalf("due at +4h: %v", got)
	}
	_, _ = s.UpdateKey(ctx, "deleting", func(k *Key) error { k.State, k.DeleteDate = "Enabled", time.Time{}; return nil })
	_, _ = s.UpdateKey(ctx, "in-token", func(k *Key) error { k.HSMObject = "obj2"; return nil })
	if got := due(t0.Add(4 * time.Hour)); !reflect.DeepEqual(got, []string{"expiring", "in-token"}) {
		t.Fatalf("after cancelling the deletion: %v", got)
	}
	objs := map[string]string{}
	_ = s.KeyObjects(ctx, func(o, k string) bool { objs[o] = k; return true })
	if !reflect.DeepEqual(objs, map[string]string{"obj2": "in-token"}) {
		t.Fatalf("key objects: %v", objs)
	}
	_ = s.DeleteKey(ctx, "in-token")
	if got := due(t0.Add(4 * time.Hour)); !reflect.DeepEqual(got, []string{"expiring"}) {
		t.Fatalf("after delete: %v", got)
	}

	_ = s.AddPooled(ctx, &WrappingKey{ID: "w1", Spec: "RSA_2048"})
	_ = s.AddPooled(ctx, &WrappingKey{ID: "w2", Spec: "RSA_2048"})
	for i := 0; i < 2; i++ {
		_, _ = s.ClaimPooled(ctx, "RSA_2048", func(w *WrappingKey) { w.KeyID, w.Expires = "k", t0.Add(time.Duration(i+1)*time.Hour) })
	}
	_ = s.PutIssued(ctx, &WrappingKey{ID: "w3", KeyID: "k", Expires: t0.Add(30 * time.Minute)})
	var wids []string
	_ = s.DueWrapping(ctx, t0.Add(time.Hour), func(w *WrappingKey) bool { wids = append(wids, w.ID); return true })
	if len(wids) != 2 || wids[0] != "w3" {
		t.Fatalf("due wrapping at +1h: %v", wids)
	}
	_ = s.DeleteWrapping(ctx, "w3")
	wids = nil
	_ = s.DueWrapping(ctx, t0.Add(5*time.Hour), func(w *WrappingKey) bool { wids = append(wids, w.ID); return true })
	if len(wids) != 2 {
		t.Fatalf("after delete: %v", wids)
	}
}

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
