package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/store"
)

func wrappingPool(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.AddPooled(ctx, &store.WrappingKey{ID: "r" + strconv.Itoa(i), Spec: "RSA_2048"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.CountPooled(ctx, "RSA_2048"); n != 3 {
		t.Fatalf("pooled %d", n)
	}
	if _, err := s.ClaimPooled(ctx, "EC_SM2", func(*store.WrappingKey) {}); !errors.Is(err, store.ErrPoolEmpty) {
		t.Fatalf("empty spec: %v", err)
	}
	claimed := map[string]bool{}
	for i := 0; i < 3; i++ {
		w, err := s.ClaimPooled(ctx, "RSA_2048", func(w *store.WrappingKey) { w.KeyID = "cmk" })
		if err != nil || w.KeyID != "cmk" || claimed[w.ID] {
			t.Fatalf("claim %d: %+v %v", i, w, err)
		}
		claimed[w.ID] = true
		if got, err := s.GetIssued(ctx, w.ID); err != nil || got.KeyID != "cmk" {
			t.Fatalf("issued: %+v %v", got, err)
		}
	}
	if _, err := s.ClaimPooled(ctx, "RSA_2048", func(*store.WrappingKey) {}); !errors.Is(err, store.ErrPoolEmpty) {
		t.Fatalf("drained pool: %v", err)
	}
	if w, err := s.UpdateIssued(ctx, "r1", func(w *store.WrappingKey) error { w.Failures++; return nil }); err != nil || w.Failures != 1 {
		t.Fatalf("update issued: %+v %v", w, err)
	}
	_ = s.AddPooled(ctx, &store.WrappingKey{ID: "p", Spec: "EC_SM2"})
	if err := s.DeleteWrapping(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteWrapping(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = s.EachWrapping(ctx, func(*store.WrappingKey) bool { n++; return true })
	if n != 2 {
		t.Fatalf("EachWrapping saw %d, want 2", n)
	}
}

// Issued wrapping keys are walked by expiry, and leave the walk when deleted.
func dueWrapping(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	_ = s.AddPooled(ctx, &store.WrappingKey{ID: "w1", Spec: "RSA_2048"})
	_ = s.AddPooled(ctx, &store.WrappingKey{ID: "w2", Spec: "RSA_2048"})
	for i := 0; i < 2; i++ {
		_, _ = s.ClaimPooled(ctx, "RSA_2048", func(w *store.WrappingKey) { w.KeyID, w.Expires = "k", t0.Add(time.Duration(i+1)*time.Hour) })
	}
	_ = s.PutIssued(ctx, &store.WrappingKey{ID: "w3", KeyID: "k", Expires: t0.Add(30 * time.Minute)})
	var wids []string
	_ = s.DueWrapping(ctx, t0.Add(time.Hour), func(w *store.WrappingKey) bool { wids = append(wids, w.ID); return true })
	if len(wids) != 2 || wids[0] != "w3" {
		t.Fatalf("due wrapping at +1h: %v", wids)
	}
	_ = s.DeleteWrapping(ctx, "w3")
	wids = nil
	_ = s.DueWrapping(ctx, t0.Add(5*time.Hour), func(w *store.WrappingKey) bool { wids = append(wids, w.ID); return true })
	if len(wids) != 2 {
		t.Fatalf("after delete: %v", wids)
	}
}

// Claims racing on one pool get distinct pairs, and every pair is claimed.
func concurrentClaims(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	const n = 200
	for i := 0; i < n; i++ {
		if err := s.AddPooled(ctx, &store.WrappingKey{ID: fmt.Sprintf("w%03d", i), Spec: "RSA_2048"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				w, err := s.ClaimPooled(ctx, "RSA_2048", func(w *store.WrappingKey) { w.KeyID = "k" })
				if errors.Is(err, store.ErrPoolEmpty) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[w.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("%d of %d pairs claimed", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Fatalf("%s claimed %d times", id, c)
		}
	}
}
