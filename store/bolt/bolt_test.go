package bolt

import (
	"context"
	"errors"
	"os"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func TestSchemaVersion(t *testing.T) {
	s, dir := openTemp(t)
	s.Close()
	db, err := bbolt.Open(dir+"/keyport.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, []byte("99")) })
	db.Close()
	if _, err := Create(dir); err == nil {
		t.Fatal("opened a store from a newer schema")
	}
}

func TestInUse(t *testing.T) {
	_, dir := openTemp(t)
	if _, err := Create(dir); err == nil {
		t.Fatal("opened a store held by another handle")
	}
}

// A store written by schema 1 (before access keys) opens and migrates.
func TestMigrateFromSchema1(t *testing.T) {
	dir := t.TempDir()
	db, err := bbolt.Open(dir+"/keyport.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
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
	s, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if k, err := s.GetKey(ctx, "k1"); err != nil || k.State != "Enabled" {
		t.Fatalf("old key: %+v %v", k, err)
	}
	if err := s.PutAccessKey(ctx, &store.AccessKey{ID: "new"}); err != nil {
		t.Fatalf("access keys after migration: %v", err)
	}
	if legacy, _ := s.Meta(ctx, store.MetaLegacyObjects); legacy != "true" {
		t.Fatalf("a store from before deployment ids is not marked legacy: %q", legacy)
	}
	if id, _ := s.Meta(ctx, store.MetaDeployment); len(id) != 16 {
		t.Fatalf("migrated store has deployment id %q", id)
	}
}

// Only Create makes a store, and only in a missing or empty
// directory; Open refuses a directory without one and leaves it as it
// was, so a mistyped --data-dir is an error, not a new deployment.
func TestOpenNeedsAStore(t *testing.T) {
	empty := t.TempDir()
	if _, err := Open(empty); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("open of an empty directory: %v", err)
	}
	missing := empty + "/nope"
	if _, err := Open(missing); !errors.Is(err, store.ErrNoStore) {
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
	if _, err := Create(other); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("create in a directory holding other files: %v", err)
	}
	s, err := Create(missing)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := s.Meta(context.Background(), store.MetaDeployment)
	s.Close()
	s, err = Open(missing)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, _ := s.Meta(context.Background(), store.MetaDeployment); len(id) != 16 || again != id {
		t.Fatalf("deployment id %q, after reopening %q", id, again)
	}
	if legacy, _ := s.Meta(context.Background(), store.MetaLegacyObjects); legacy != "" {
		t.Fatalf("a new store is marked legacy: %q", legacy)
	}
}
