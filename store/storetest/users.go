package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/store"
)

// Users are unique by name, keep their policies as written across a
// reopen, list in name order, and an access key names its user.
func users(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0).UTC()
	doc := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`
	for _, name := range []string{"bob", "alice"} {
		if err := s.PutUser(ctx, &store.User{Name: name, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutUser(ctx, &store.User{Name: "alice"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second alice: %v", err)
	}
	if _, err := s.UpdateUser(ctx, "alice", func(u *store.User) error {
		u.Policies = map[string]string{"app": doc}
		u.Name = "mallory" // a name is the record's key, not a field to change
		u.Updated = now.Add(time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, "nobody", func(*store.User) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing user: %v", err)
	}
	if err := s.PutAccessKey(ctx, &store.AccessKey{ID: "ak-alice", User: "alice", SealedSecret: []byte{1}, Created: now}); err != nil {
		t.Fatal(err)
	}
	s = f.Reopen(t, s)
	u, err := s.GetUser(ctx, "alice")
	if err != nil || u.Name != "alice" || u.Policies["app"] != doc || !u.Created.Equal(now) || !u.Updated.Equal(now.Add(time.Minute)) {
		t.Fatalf("alice after reopen: %+v, %v", u, err)
	}
	if a, err := s.GetAccessKey(ctx, "ak-alice"); err != nil || a.User != "alice" {
		t.Fatalf("access key's user: %+v, %v", a, err)
	}
	list, err := s.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" {
		t.Fatalf("list: %v, %v", list, err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.GetUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
}
