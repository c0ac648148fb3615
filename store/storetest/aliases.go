package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/store"
)

func aliases(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0).UTC()
	for _, id := range []string{"ka", "kb"} {
		if err := s.CreateKey(ctx, &store.Key{ID: id, Created: now, State: "Enabled"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []*store.Alias{
		{Name: "alias/one", KeyID: "ka", Created: now},
		{Name: "alias/two", KeyID: "ka", Created: now},
		{Name: "alias/three", KeyID: "kb", Created: now},
		{Name: store.TencentAliasPrefix + "display", KeyID: "kb", Created: now},
	} {
		if err := s.PutAlias(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAlias(ctx, &store.Alias{Name: "alias/one", KeyID: "kb", Created: now}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("taken name: %v", err)
	}
	names := func(prefix, keyID string) []string {
		t.Helper()
		list, err := s.ListAliases(ctx, prefix, keyID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range list {
			out = append(out, a.Name+"="+a.KeyID)
		}
		return out
	}
	if got, want := names("alias/", ""), []string{"alias/one=ka", "alias/three=kb", "alias/two=ka"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListAliases(alias/) = %v, want %v", got, want)
	}
	if got, want := names("alias/", "ka"), []string{"alias/one=ka", "alias/two=ka"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ListAliases(alias/, ka) = %v, want %v", got, want)
	}
	later := now.Add(time.Hour)
	if err := s.SetAlias(ctx, "alias/two", "kb", later); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAlias(ctx, "alias/none", "kb", later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetAlias of a missing alias: %v", err)
	}
	a, err := s.GetAlias(ctx, "alias/two")
	if err != nil || a.KeyID != "kb" || !a.Created.Equal(now) || !a.Updated.Equal(later) {
		t.Fatalf("GetAlias after SetAlias = %+v, %v", a, err)
	}
	if err := s.DeleteAlias(ctx, "alias/one"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlias(ctx, "alias/one"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second DeleteAlias: %v", err)
	}
	if _, err := s.GetAlias(ctx, "alias/one"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAlias of a deleted alias: %v", err)
	}
	s = f.Reopen(t, s)
	if err := s.DeleteKey(ctx, "kb"); err != nil {
		t.Fatal(err)
	}
	if got := names("", ""); len(got) != 0 {
		t.Fatalf("aliases left after their keys went: %v", got)
	}
}
