package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/store"
)

// A store that keeps uses records a value once while it lives, reports
// the first use to a second, and forgets it when it expires.
func uses(t *testing.T, f Factory) {
	s := f.New(t)
	u, ok := s.(store.Uses)
	if !ok {
		if s.Shared() {
			t.Fatal("a store replicas share must keep uses")
		}
		t.Skip("uses are kept in memory with this store")
	}
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	use := store.Use{Credential: "ak", Value: [16]byte{1}, Until: t0.Add(time.Minute)}
	if fresh, err := u.RecordUse(ctx, use, t0); err != nil || !fresh {
		t.Fatalf("first use: %v %v", fresh, err)
	}
	if fresh, err := u.RecordUse(ctx, use, t0.Add(time.Second)); err != nil || fresh {
		t.Fatalf("second use: %v %v", fresh, err)
	}
	other := use
	other.Credential = "ak2"
	if fresh, err := u.RecordUse(ctx, other, t0); err != nil || !fresh {
		t.Fatalf("same value, other credential: %v %v", fresh, err)
	}
	later := use
	later.Until = t0.Add(3 * time.Minute)
	if fresh, err := u.RecordUse(ctx, later, t0.Add(2*time.Minute)); err != nil || !fresh {
		t.Fatalf("after expiry: %v %v", fresh, err)
	}
	if n, err := u.ForgetUses(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("forget: %d %v", n, err)
	}
}
