package storetest

import (
	"context"
	"testing"
	"time"
)

// The ledger keeps an object's first time, forgets it when disowned, and
// survives a reopen.
func ledger(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	for _, id := range []string{"o1", "o2"} {
		if err := s.OwnObject(ctx, id, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.OwnObject(ctx, "o1", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.DisownObject(ctx, "o2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DisownObject(ctx, "never-owned"); err != nil {
		t.Fatalf("disowning an unknown object: %v", err)
	}
	s = f.Reopen(t, s)
	owned := map[string]time.Time{}
	if err := s.EachOwned(ctx, func(id string, since time.Time) bool { owned[id] = since; return true }); err != nil {
		t.Fatal(err)
	}
	if len(owned) != 1 || !owned["o1"].Equal(t0) {
		t.Fatalf("ledger: %v", owned)
	}
}
