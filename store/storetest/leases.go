package storetest

import (
	"context"
	"testing"
)

// A lease is held once until released.
func leases(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	release, ok, err := s.TryLease(ctx, "pool/RSA_2048")
	if err != nil || !ok {
		t.Fatalf("first take: %v %v", ok, err)
	}
	if _, ok, err := s.TryLease(ctx, "pool/RSA_2048"); ok || err != nil {
		t.Fatalf("second take of a held lease: %v %v", ok, err)
	}
	other, ok, err := s.TryLease(ctx, "collect")
	if err != nil || !ok {
		t.Fatalf("another lease: %v %v", ok, err)
	}
	other()
	release()
	again, ok, err := s.TryLease(ctx, "pool/RSA_2048")
	if err != nil || !ok {
		t.Fatalf("take after release: %v %v", ok, err)
	}
	again()
}
