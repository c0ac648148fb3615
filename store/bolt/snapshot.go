package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	bbolt "go.etcd.io/bbolt"
)

// Snapshot writes a consistent copy of the whole store to w in one read
// transaction, while the server goes on: bbolt's writers do not wait for
// readers, except a write that must grow the file, which waits for the
// copy to end.
func (s *Store) Snapshot(_ context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Check reads every page of the file (bbolt's consistency check), for a
// copy this process just made: bbolt reads only files it can trust (see
// package backupfile).
func (s *Store) Check() error {
	if err := wholeFile(s.db); err != nil {
		return err
	}
	return s.db.View(func(tx *bbolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// wholeFile refuses a file shorter than its own meta page says (a copy
// cut short): reading its missing pages through the mapping would kill the
// process, even inside bbolt's own checker.
func wholeFile(db *bbolt.DB) error {
	fi, err := os.Stat(db.Path())
	if err != nil {
		return err
	}
	return db.View(func(tx *bbolt.Tx) error {
		if tx.Size() > fi.Size() {
			return fmt.Errorf("%w: %s is cut short (%d bytes of %d)", ErrDamaged, db.Path(), fi.Size(), tx.Size())
		}
		return nil
	})
}

// ErrDamaged: a store file bbolt cannot read (a file cut short).
var ErrDamaged = errors.New("damaged store file")

// Restore makes a store in dir, which must be missing or empty, from what
// fill writes (a backup's store, whose digest fill checks), durably: written
// beside its final name, synced, renamed into place, the directory synced.
// A fill that fails leaves no store behind.
func Restore(dir string, fill func(w io.Writer) error) (*Store, error) {
	if err := RestorableDir(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, File)
	if err := WriteDurably(path, fill); err != nil {
		return nil, err
	}
	return open(path)
}

// RestorableDir says why dir cannot take a restore: it must be missing or
// empty, so that no store, and nothing else, is overwritten.
func RestorableDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("data dir %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: restore into a missing or empty directory", dir)
	}
	return nil
}

// WriteDurably writes dst through a temporary file beside it (dst.partial,
// which must not exist), so that dst is either absent or whole, even across
// a crash: written, synced, renamed into place, the directory synced.
func WriteDurably(dst string, fill func(w io.Writer) error) error {
	tmp := dst + ".partial"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = fill(out)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(dst))
}

// SyncDir makes a rename in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
