package backupfile_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/keyport-kms/keyport/store/backupfile"
)

func backup(t testing.TB, stamp, store []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := backupfile.Write(&b, stamp, bytes.NewReader(store), int64(len(store))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// read is what restore does: the stamp, then the store with the digest.
func read(b []byte) (stamp, store []byte, err error) {
	r, err := backupfile.Open(bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	if _, err := r.Store(&out); err != nil {
		return nil, nil, err
	}
	return r.Stamp(), out.Bytes(), nil
}

// Every cut and every altered byte is refused; only the whole file reads.
func TestEveryDamageRefused(t *testing.T) {
	stamp, store := []byte(`{"id":"s1"}`), bytes.Repeat([]byte("store page "), 40)
	whole := backup(t, stamp, store)
	if gotStamp, gotStore, err := read(whole); err != nil || !bytes.Equal(gotStamp, stamp) || !bytes.Equal(gotStore, store) {
		t.Fatalf("a whole backup: %q, %d bytes, %v", gotStamp, len(gotStore), err)
	}
	for cut := range len(whole) {
		if _, _, err := read(whole[:cut]); !errors.Is(err, backupfile.ErrDamaged) && !errors.Is(err, backupfile.ErrNotBackup) {
			t.Fatalf("cut at %d of %d: %v", cut, len(whole), err)
		}
	}
	for at := range len(whole) {
		b := bytes.Clone(whole)
		b[at] ^= 0x01
		if _, _, err := read(b); err == nil {
			t.Fatalf("byte %d altered: read as whole", at)
		}
	}
	if _, _, err := read(append(bytes.Clone(whole), 0)); !errors.Is(err, backupfile.ErrDamaged) {
		t.Errorf("a byte after the digest: %v", err)
	}
	if _, _, err := read([]byte("SQLite format 3\x00")); !errors.Is(err, backupfile.ErrNotBackup) {
		t.Errorf("another file: %v", err)
	}
}

// FuzzRead: restore reads files that may have been cut short or altered;
// nothing it reads crashes it or reads as whole unless it is.
func FuzzRead(f *testing.F) {
	f.Add(backup(f, []byte(`{"id":"s1"}`), []byte("store")))
	f.Add([]byte("keyport-backup 1\n\xff\xff\xff\xff"))
	f.Add([]byte("keyport-backup 1\n\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := backupfile.Open(bytes.NewReader(b))
		if err != nil {
			return
		}
		if _, err := r.Store(io.Discard); err == nil {
			// It read as whole: it must be what Write makes of its parts.
			stamp, store, _ := read(b)
			if !bytes.Equal(backup(t, stamp, store), b) {
				t.Fatalf("%x read as a whole backup, but is not one", b)
			}
		}
	})
}
