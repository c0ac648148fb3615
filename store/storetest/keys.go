package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/store"
)

func keys(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	base := time.Unix(1700000000, 0)
	for i := 0; i < 25; i++ {
		k := &store.Key{ID: fmt.Sprintf("k%02d", i), Created: base.Add(time.Duration(i) * time.Second), State: "Enabled"}
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, &store.Key{ID: "k00"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, tc := range []struct{ offset, limit, first, n int }{{0, 10, 0, 10}, {10, 10, 10, 10}, {20, 10, 20, 5}, {30, 10, 0, 0}} {
		keys, total, err := s.ListKeys(ctx, tc.offset, tc.limit)
		if err != nil || total != 25 || len(keys) != tc.n || (tc.n > 0 && keys[0].ID != fmt.Sprintf("k%02d", tc.first)) {
			t.Fatalf("list %+v: %d keys, total %d, %v", tc, len(keys), total, err)
		}
	}
	k, err := s.UpdateKey(ctx, "k03", func(k *store.Key) error { k.State = "Disabled"; return nil })
	if err != nil || k.State != "Disabled" {
		t.Fatalf("update: %+v %v", k, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateKey(ctx, "k03", func(k *store.Key) error { k.State = "X"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed update: %v", err)
	}
	if k, _ := s.GetKey(ctx, "k03"); k.State != "Disabled" {
		t.Fatalf("a failed update changed state to %s", k.State)
	}
	if _, err := s.UpdateKey(ctx, "nope", func(*store.Key) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if err := s.DeleteKey(ctx, "k00"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetKey(ctx, "k00"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	n := 0
	_ = s.EachKey(ctx, func(*store.Key) bool { n++; return true })
	if n != 24 {
		t.Fatalf("EachKey saw %d", n)
	}
	s2 := f.Reopen(t, s)
	if _, total, _ := s2.ListKeys(ctx, 0, 1); total != 24 {
		t.Fatalf("after reopen: %d keys", total)
	}
}

// Pages are right across chunk boundaries and after deletions, and the
// count stays exact.
func listKeysPaging(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	var keys []*store.Key
	for i := 0; i < 1000; i++ {
		keys = append(keys, &store.Key{ID: fmt.Sprintf("k%04d", i), Created: time.Unix(int64(i), 0), State: "Enabled"})
	}
	if err := s.CreateKeys(ctx, keys); err != nil {
		t.Fatal(err)
	}
	live := []string{}
	for i := 0; i < 1000; i++ {
		if i%7 == 3 || (i >= 256 && i < 512) { // every 7th, and one whole chunk
			if err := s.DeleteKey(ctx, fmt.Sprintf("k%04d", i)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		live = append(live, fmt.Sprintf("k%04d", i))
	}
	for _, tc := range []struct{ offset, limit int }{{0, 10}, {250, 20}, {219, 3}, {len(live) - 5, 10}, {len(live), 10}, {100, 0}} {
		got, total, err := s.ListKeys(ctx, tc.offset, tc.limit)
		if err != nil || total != len(live) {
			t.Fatalf("%+v: total %d, %v", tc, total, err)
		}
		want := live[min(tc.offset, len(live)):min(tc.offset+tc.limit, len(live))]
		var ids []string
		for _, k := range got {
			ids = append(ids, k.ID)
		}
		if len(ids) != len(want) || (len(want) > 0 && !reflect.DeepEqual(ids, want)) {
			t.Fatalf("%+v: %v, want %v", tc, ids, want)
		}
	}
	n := 0
	if err := s.EachKey(ctx, func(*store.Key) bool { n++; return true }); err != nil || n != len(live) {
		t.Fatalf("EachKey saw %d of %d: %v", n, len(live), err)
	}
}

// DueKeys hands over only the keys due, earliest first, and follows
// updates; KeyObjects lists the objects keys refer to.
func dueKeys(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0).UTC()
	_ = s.CreateKeys(ctx, []*store.Key{
		{ID: "plain"},
		{ID: "deleting", State: "PendingDeletion", DeleteDate: t0.Add(2 * time.Hour)},
		{ID: "expiring", SealedMat: []byte{1}, MaterialExp: t0.Add(time.Hour)},
		{ID: "in-token", HSMObject: "obj1", MaterialExp: t0.Add(3 * time.Hour)},
		{ID: "no-material-yet", MaterialExp: t0}, // nothing to expire
	})
	due := func(until time.Time) []string {
		var ids []string
		if err := s.DueKeys(ctx, until, func(k *store.Key) bool { ids = append(ids, k.ID); return true }); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := due(t0.Add(90 * time.Minute)); !reflect.DeepEqual(got, []string{"expiring"}) {
		t.Fatalf("due at +90m: %v", got)
	}
	if got := due(t0.Add(4 * time.Hour)); !reflect.DeepEqual(got, []string{"expiring", "deleting", "in-token"}) {
		t.Fatalf("due at +4h: %v", got)
	}
	_, _ = s.UpdateKey(ctx, "deleting", func(k *store.Key) error { k.State, k.DeleteDate = "Enabled", time.Time{}; return nil })
	_, _ = s.UpdateKey(ctx, "in-token", func(k *store.Key) error { k.HSMObject = "obj2"; return nil })
	if got := due(t0.Add(4 * time.Hour)); !reflect.DeepEqual(got, []string{"expiring", "in-token"}) {
		t.Fatalf("after cancelling the deletion: %v", got)
	}
	objs := map[string]string{}
	_ = s.KeyObjects(ctx, func(o, k string) bool { objs[o] = k; return true })
	if !reflect.DeepEqual(objs, map[string]string{"obj2": "in-token"}) {
		t.Fatalf("key objects: %v", objs)
	}
	_ = s.DeleteKey(ctx, "in-token")
	if got := due(t0.Add(4 * time.Hour)); !reflect.DeepEqual(got, []string{"expiring"}) {
		t.Fatalf("after delete: %v", got)
	}
}

// versionsAndObjects: retired versions and tags survive a round trip, and
// the object index holds every version's token object.
func versionsAndObjects(t *testing.T, f Factory) {
	s := f.New(t)
	ctx := context.Background()
	now := time.Unix(1700000000, 0).UTC()
	k := &store.Key{ID: "kv", VersionID: "v2", Created: now, State: "Enabled", HSMObject: "obj-2",
		Tags: map[string]string{"env": "prod", "empty": ""}, DeletionProtection: true, ProtectionNote: "keep",
		Policy: `{"Version":"1"}`, HSMCluster: "cluster-1", AutoRotate: true, RotationInterval: 30 * 24 * time.Hour,
		LastRotation: now.Add(time.Hour), VersionCreated: now.Add(time.Hour),
		Versions: []store.KeyVersion{{ID: "v1", Created: now, HSMObject: "obj-1"}}}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	objects := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		if err := s.KeyObjects(ctx, func(o, id string) bool { out[o] = id; return true }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := objects(), map[string]string{"obj-1": "kv", "obj-2": "kv"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("objects = %v, want %v", got, want)
	}
	if _, err := s.UpdateKey(ctx, "kv", func(k *store.Key) error {
		k.Versions = append(k.Versions, store.KeyVersion{ID: k.VersionID, Created: k.VersionCreated, HSMObject: k.HSMObject})
		k.VersionID, k.HSMObject, k.VersionCreated = "v3", "obj-3", now.Add(2*time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s = f.Reopen(t, s)
	if got, want := objects(), map[string]string{"obj-1": "kv", "obj-2": "kv", "obj-3": "kv"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("objects after rotation = %v, want %v", got, want)
	}
	got, err := s.GetKey(ctx, "kv")
	if err != nil {
		t.Fatal(err)
	}
	want := *k
	want.Versions = []store.KeyVersion{{ID: "v1", Created: now, HSMObject: "obj-1"}, {ID: "v2", Created: now.Add(time.Hour), HSMObject: "obj-2"}}
	want.VersionID, want.HSMObject, want.VersionCreated, want.Seq = "v3", "obj-3", now.Add(2*time.Hour), got.Seq
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, &want)
	}
	// The hot path's read: everything but the retired versions, counted.
	primary, err := s.GetPrimary(ctx, "kv")
	if err != nil {
		t.Fatal(err)
	}
	wantPrimary := want
	wantPrimary.Versions, wantPrimary.Retired = nil, 2
	if !reflect.DeepEqual(primary, &wantPrimary) {
		t.Fatalf("GetPrimary:\n got %+v\nwant %+v", primary, &wantPrimary)
	}
	if _, err := s.UpdateKey(ctx, "kv", func(k *store.Key) error { k.Versions, k.HSMObject = nil, ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := objects(); len(got) != 0 {
		t.Fatalf("objects after the material went: %v", got)
	}
}
