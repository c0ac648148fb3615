// Package bolt is the embedded store: one bbolt file in the data
// directory, locked to one process. It implements every view of
// store.Store; its files follow the views (keys, aliases, wrapping,
// accesskeys, meta, owned), schema.go holds the buckets and migrations.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyport-kms/keyport/store"
)

// Store is the embedded store: one bbolt file in the data directory. Every
// write transaction is fsynced before it returns, so what it acknowledged
// survives kill -9 and power loss.
type Store struct {
	db     *bbolt.DB
	leases store.LocalLeases
}

var _ store.Store = (*Store)(nil)

// Open opens the store in dir, which must exist: every command but
// `serve` works on a store that is there, so that a mistyped directory is
// an error, not a new empty deployment.
func Open(dir string) (*Store, error) {
	path := filepath.Join(dir, File)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w in %s", store.ErrNoStore, dir)
	}
	return open(path)
}

// OpenReadOnly opens the store in dir for reading only (`store
// migrate` copies from it and must leave it as it was): it shares the file
// with other readers, and refuses a store of another schema version, which
// only a read-write open would migrate.
func OpenReadOnly(dir string) (*Store, error) {
	path := filepath.Join(dir, File)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w in %s", store.ErrNoStore, dir)
	}
	return OpenFileReadOnly(path)
}

// OpenFileReadOnly is OpenReadOnly of a store file by its path, such as a
// copy being checked.
func OpenFileReadOnly(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second, ReadOnly: true})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s is in use by another process: stop it first", path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := wholeFile(db); err != nil {
		db.Close()
		return nil, err
	}
	var version string
	_ = db.View(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(bMeta); meta != nil {
			version = string(meta.Get(kSchema))
		}
		return nil
	})
	if version != strconv.Itoa(SchemaVersion) {
		db.Close()
		return nil, fmt.Errorf("store %s has schema version %q, not %d: start this Keyport on it once (it migrates), then copy it", path, version, SchemaVersion)
	}
	return &Store{db: db}, nil
}

// Create opens the store in dir or, where dir is missing or empty,
// creates a new one (a new deployment). A directory that holds other files
// but no store is refused: it is not the data directory the caller meant.
func Create(dir string) (*Store, error) {
	path := filepath.Join(dir, File)
	if _, err := os.Stat(path); err == nil {
		return open(path)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	case len(entries) > 0:
		return nil, fmt.Errorf("%w in %s, and it is not empty: give an empty or missing directory for a new store", store.ErrNoStore, dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	return open(path)
}

func open(path string) (*Store, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("store %s is in use by another process", path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Shared is false: the file is locked to one process.
func (s *Store) Shared() bool { return false }

// TryLease takes a lease within this process, the only one on the file.
func (s *Store) TryLease(_ context.Context, name string) (func(), bool, error) {
	if !s.leases.Take(name) {
		return nil, false, nil
	}
	return func() { s.leases.Drop(name) }, true, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Unretire clears the retired mark (MetaRetired) of an embedded store, for
// an operator rolling a migration back on purpose.
func (s *Store) Unretire() error { return s.PutMeta(context.Background(), store.MetaRetired, "") }
