package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/store/bolt"
)

// A snapshot taken while writers commit is one consistent store: it
// passes bbolt's check, restores into an empty directory only, and holds
// every record committed before it began.
func TestSnapshotWhileWriting(t *testing.T) {
	ctx := context.Background()
	st, err := bolt.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(id string) error {
		return st.OwnObject(ctx, id, time.Now())
	}
	for i := range 100 {
		if err := put("before-" + string(rune('a'+i%26)) + string(rune('a'+i/26))); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := put("during-" + time.Now().Format(time.RFC3339Nano)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	var buf bytes.Buffer
	if _, err := st.Snapshot(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	fill := func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }
	notEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := bolt.Restore(notEmpty, fill); err == nil {
		t.Fatal("restored into a directory that is not empty")
	}
	failed := filepath.Join(t.TempDir(), "failed")
	if _, err := bolt.Restore(failed, func(io.Writer) error { return errors.New("digest") }); err == nil {
		t.Fatal("a failed fill restored")
	}
	if entries, _ := os.ReadDir(failed); len(entries) != 0 {
		t.Fatalf("a failed restore left %v", entries)
	}
	got, err := bolt.Restore(filepath.Join(t.TempDir(), "new"), fill)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if err := got.Check(); err != nil {
		t.Fatal(err)
	}
	before := 0
	_ = got.EachOwned(ctx, func(id string, _ time.Time) bool {
		if len(id) > 7 && id[:7] == "before-" {
			before++
		}
		return true
	})
	if before != 100 {
		t.Errorf("the restored snapshot holds %d of the 100 records committed before it", before)
	}
	// A copy cut short is refused before bbolt reads past its end.
	cut := filepath.Join(t.TempDir(), "cut")
	if err := os.WriteFile(cut, buf.Bytes()[:buf.Len()-4096], 0o600); err != nil {
		t.Fatal(err)
	}
	if bad, err := bolt.OpenFileReadOnly(cut); err == nil {
		bad.Close()
		t.Error("a store file cut short opens")
	}
}
