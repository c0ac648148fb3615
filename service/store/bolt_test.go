package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*Bolt, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := CreateBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestKeys(t *testing.T) {
	s, dir := openTemp(t)
	ctx := context.Background()
	base := time.Unix(1700000000, 0)
	for i := 0; i < 25; i++ {
		k := &Key{ID: fmt.Sprintf("k%02d", i), Created: base.Add(time.Duration(i) * time.Second), State: "Enabled"}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, &Key{ID: "k00"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, tc := range []struct{ offset, limit, first, n int }{{0, 10, 0, 10}, {10, 10, 10, 10}, {20, 10, 20, 5}, {30, 10, 0, 0}} {
		keys, total, err := s.ListKeys(ctx, tc.offset, tc.limit)
		if err != nil || total != 25 || len(keys) != tc.n || (tc.n > 0 && keys[0].ID != fmt.Sprintf("k%02d", tc.first)) {
			t.Fatalf("list %+v: %d keys, total %d, %v", tc, len(keys), total, err)
		}
	}
	k, err := s.UpdateKey(ctx, "k03", func(k *Key) error { k.State = "Disabled"; return nil })
	if err != nil || k.State != "Disabled" {
		t.Fatalf("update: %+v %v", k, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateKey(ctx, "k03", func(k *Key) error { k.State = "X"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed update: %v", err)
	}
	if k, _ := s.GetKey(ctx, "k03"); k.State != "Disabled" {
		t.Fatalf("a failed update changed state to %s", k.State)
	}
	if _, err := s.UpdateKey(ctx, "nope", func(*Key) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := s.DeleteKey(ctx, "k00"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(ctx, "k00"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	n := 0
	_ = s.EachKey(ctx, func(*Key) bool { n++; return true })
	if n != 24 {
		t.Fatalf("EachKey saw %d", n)
	}
	s.Close()
	s2, err := CreateBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, total, _ := s2.ListKeys(ctx, 0, 1); total != 24 {
		t.Fatalf("after reopen: %d keys", total)
	}
}

func TestWrappingPool(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.AddPooled(ctx, &WrappingKey{ID: "r" + strconv.Itoa(i), Spec: "RSA_2048"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.CountPooled(ctx, "RSA_2048"); n != 3 {
		t.Fatalf("pooled %d", n)
	}
	if _, err := s.ClaimPooled(ctx, "EC_SM2", func(*WrappingKey) {}); !errors.Is(err, ErrPoolEmpty) {
		t.Fatalf("empty spec: %v", err)
	}
	claimed := map[string]bool{}
	for i := 0; i < 3; i++ {
		w, err := s.ClaimPooled(ctx, "RSA_2048", func(w *WrappingKey) { w.KeyID = "cmk" })
		if err != nil || w.KeyID != "cmk" || claimed[w.ID] {
			t.Fatalf("claim %d: %+v %v", i, w, err)
		}
		claimed[w.ID] = true
		if got, err := s.GetIssued(ctx, w.ID); err != nil || got.KeyID != "cmk" {
			t.Fatalf("issued: %+v %v", got, err)
		}
	}
	if _, err := s.ClaimPooled(ctx, "RSA_2048", func(*WrappingKey) {}); !errors.Is(err, ErrPoolEmpty) {
		t.Fatalf("drained pool: %v", err)
	}
	if w, err := s.UpdateIssued(ctx, "r1", func(w *WrappingKey) error { w.Failures++; return nil }); err != nil || w.Failures != 1 {
		t.Fatalf("update issued: %+v %v", w, err)
	}
	_ = s.AddPooled(ctx, &WrappingKey{ID: "p", Spec: "EC_SM2"})
	if err := s.DeleteWrapping(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWrapping(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = s.EachWrapping(ctx, func(*WrappingKey) bool { n++; return true })
	if n != 2 {
		t.Fatalf("EachWrapping saw %d, want 2", n)
	}
}

func TestSchemaVersion(t *testing.T) {
	s, dir := openTemp(t)
	s.Close()
	db, err := bolt.Open(dir+"/keyport.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, []byte("99")) })
	db.Close()
	if _, err := CreateBolt(dir); err == nil {
		t.Fatal("opened a store from a newer schema")
	}
}

func TestInUse(t *testing.T) {
	_, dir := openTemp(t)
	if _, err := CreateBolt(dir); err == nil {
		t.Fatal("opened a store held by another handle")
	}
}

func TestAccessKeys(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	if err := s.PutAccessKey(ctx, &AccessKey{ID: "a", SealedSecret: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccessKey(ctx, &AccessKey{ID: "a"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if a, err := s.UpdateAccessKey(ctx, "a", func(a *AccessKey) error { a.Disabled = true; return nil }); err != nil || !a.Disabled {
		t.Fatalf("%+v %v", a, err)
	}
	if keys, _ := s.ListAccessKeys(ctx); len(keys) != 1 || !keys[0].Disabled {
		t.Fatalf("%+v", keys)
	}
	if err := s.DeleteAccessKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccessKey(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if err := s.DeleteAccessKey(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// A store written by schema 1 (before access keys) opens and migrates.
func TestMigrateFromSchema1(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(dir+"/keyport.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bMeta)
		if err := migrations[0](tx); err != nil {
			return err
		}
		b := tx.Bucket(bKeys)
		_ = b.Put([]byte("k1"), []byte(`{"id":"k1","state":"Enabled"}`))
		return meta.Put(kSchema, []byte("1"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err := CreateBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if k, err := s.GetKey(ctx, "k1"); err != nil || k.State != "Enabled" {
		t.Fatalf("old key: %+v %v", k, err)
	}
	if err := s.PutAccessKey(ctx, &AccessKey{ID: "new"}); err != nil {
		t.Fatalf("access keys after migration: %v", err)
	}
	if legacy, _ := s.Meta(ctx, MetaLegacyObjects); legacy != "true" {
		t.Fatalf("a store from before deployment ids is not marked legacy: %q", legacy)
	}
	if id, _ := s.Meta(ctx, MetaDeployment); len(id) != 16 {
		t.Fatalf("migrated store has deployment id %q", id)
	}
}

// Only CreateBolt makes a store, and only in a missing or empty
// directory; OpenBolt refuses a directory without one and leaves it as it
// was, so a mistyped --data-dir is an error, not a new deployment.
func TestOpenNeedsAStore(t *testing.T) {
	empty := t.TempDir()
	if _, err := OpenBolt(empty); !errors.Is(err, ErrNoStore) {
		t.Fatalf("open of an empty directory: %v", err)
	}
	missing := empty + "/nope"
	if _, err := OpenBolt(missing); !errors.Is(err, ErrNoStore) {
		t.Fatalf("open of a missing directory: %v", err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("a refused open left %d files", len(entries))
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused open made the directory")
	}
	other := t.TempDir()
	_ = os.WriteFile(other+"/notes.txt", []byte("x"), 0o600)
	if _, err := CreateBolt(other); !errors.Is(err, ErrNoStore) {
		t.Fatalf("create in a directory holding other files: %v", err)
	}
	s, err := CreateBolt(missing)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := s.Meta(context.Background(), MetaDeployment)
	s.Close()
	s, err = OpenBolt(missing)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, _ := s.Meta(context.Background(), MetaDeployment); len(id) != 16 || again != id {
		t.Fatalf("deployment id %q, after reopening %q", id, again)
	}
	if legacy, _ := s.Meta(context.Background(), MetaLegacyObjects); legacy != "" {
		t.Fatalf("a new store is marked legacy: %q", legacy)
	}
}

// Two stores have two deployment ids; InitMeta keeps the first value set.
func TestMeta(t *testing.T) {
	a, _ := openTemp(t)
	b, _ := openTemp(t)
	ctx := context.Background()
	ida, _ := a.Meta(ctx, MetaDeployment)
	idb, _ := b.Meta(ctx, MetaDeployment)
	if ida == "" || ida == idb {
		t.Fatalf("deployment ids %q and %q", ida, idb)
	}
	if v, _ := a.Meta(ctx, "x"); v != "" {
		t.Fatalf("unset setting reads %q", v)
	}
	var wg sync.WaitGroup
	won := make([]string, 16)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], _ = a.InitMeta(ctx, "x", strconv.Itoa(i))
		}()
	}
	wg.Wait()
	for _, v := range won {
		if v != won[0] {
			t.Fatalf("racing InitMeta calls saw different values: %q", won)
		}
	}
	if v, _ := a.Meta(ctx, "x"); v != won[0] {
		t.Fatalf("stored %q, InitMeta said %q", v, won[0])
	}
}
