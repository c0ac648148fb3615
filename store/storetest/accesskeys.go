package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/keyport-kms/keyport/store"
)

func accessKeys(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	if err := s.PutAccessKey(ctx, &store.AccessKey{ID: "a", SealedSecret: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccessKey(ctx, &store.AccessKey{ID: "a"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if a, err := s.UpdateAccessKey(ctx, "a", func(a *store.AccessKey) error { a.Disabled = true; return nil }); err != nil || !a.Disabled {
		t.Fatalf("%+v %v", a, err)
	}
	if keys, _ := s.ListAccessKeys(ctx); len(keys) != 1 || !keys[0].Disabled {
		t.Fatalf("%+v", keys)
	}
	if err := s.DeleteAccessKey(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAccessKey(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
	if err := s.DeleteAccessKey(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}
