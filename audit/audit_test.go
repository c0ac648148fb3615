package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service/wire"
)

// Concurrent writers share writes and syncs, and every line reaches the
// file whole, each once.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 200
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := l.Record(context.Background(), wire.Access{Dialect: "aliyun", Action: "Encrypt", RequestID: fmt.Sprint(i), Code: "OK",
				Keys: []wire.KeyUse{{KeyID: "k", Version: "v"}}}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("a line that is not JSON: %q", sc.Text())
		}
		if seen[r.RequestID] || r.KeyID != "k" {
			t.Fatalf("line %+v: twice, or without its key", r)
		}
		seen[r.RequestID] = true
	}
	if len(seen) != n {
		t.Fatalf("%d lines, want %d", len(seen), n)
	}
}

// A log that cannot be written fails the write with ErrUnwritable and then
// refuses (Ready) until a line can be written again; an admin action is
// not carried out while it refuses.
func TestFailClosed(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full here")
	}
	l, err := Open("/dev/full")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Write(ctx, Record{Action: "Encrypt"}); !errors.Is(err, ErrUnwritable) {
		t.Fatalf("write to a full disk: %v", err)
	}
	if err := l.Ready(ctx); !errors.Is(err, ErrUnwritable) {
		t.Fatalf("ready after a failed write: %v", err)
	}
	ran := false
	err = l.Action(ctx, "AccessKeyCreate", "local", func() (string, error) { ran = true; return "", nil }, nil)
	if ran || !errors.Is(err, ErrUnwritable) {
		t.Fatalf("an admin action ran (%v) with the log unwritable: %v", ran, err)
	}
}

// Admin hands the record to keep as well, and reports a record it could
// not keep after a successful action.
func TestAdminKeep(t *testing.T) {
	var kept []Record
	keep := func(_ context.Context, r Record) error { kept = append(kept, r); return nil }
	if err := Admin(context.Background(), "", "StoreMigrate", func() (string, error) { return "dep", nil }, keep); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].Action != "StoreMigrate" || kept[0].AccessKeyID != "dep" || kept[0].Result != "OK" {
		t.Fatalf("kept %+v", kept)
	}
	lost := func(context.Context, Record) error { return errors.New("database away") }
	if err := Admin(context.Background(), "", "StoreMigrate", func() (string, error) { return "", nil }, lost); err == nil {
		t.Fatal("a record not kept was not reported")
	}
}
