// Package storetest is the conformance suite of store.Store: every
// implementation (the embedded bbolt store; PostgreSQL for replicas) runs
// the same tests, through Run.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service/store"
)

// Factory makes stores for the suite.
type Factory struct {
	// New makes a fresh, empty store (a new deployment) for one test and
	// closes it when the test ends.
	New func(t *testing.T) store.Store
	// Reopen closes s and opens the same store again, to check that what
	// was acknowledged is kept.
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the whole suite against the implementation f makes.
func Run(t *testing.T, f Factory) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"Keys", keys},
		{"WrappingPool", wrappingPool},
		{"AccessKeys", accessKeys},
		{"Meta", meta},
		{"ListKeysPaging", listKeysPaging},
		{"DueIndexes", dueIndexes},
		{"ConcurrentClaims", concurrentClaims},
		{"Leases", leases},
		{"Uses", uses},
		{"Aliases", aliases},
		{"VersionsAndObjects", versionsAndObjects},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

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

// Two stores have two deployment ids; InitMeta keeps the first value set.
func meta(t *testing.T, f Factory) {
	a := f.New(t)
	b := f.New(t)
	ctx := context.Background()
	ida, _ := a.Meta(ctx, store.MetaDeployment)
	idb, _ := b.Meta(ctx, store.MetaDeployment)
	if ida == "" || ida == idb {
		t.Fatalf("deployment ids %q and %q", ida, idb)
	}
	if v, _ := a.Meta(ctx, "x"); v != "" {
		t.Fatalf("unset setting reads %q", v)
	}
	var wg sync.WaitGroup
	won := make([]string, 16)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], _ = a.InitMeta(ctx, "x", strconv.Itoa(i))
		}()
	}
	wg.Wait()
	for _, v := range won {
		if v != won[0] {
			t.Fatalf("racing InitMeta calls saw different values: %q", won)
		}
	}
	if v, _ := a.Meta(ctx, "x"); v != won[0] {
		t.Fatalf("stored %q, InitMeta said %q", v, won[0])
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

// DueKeys and DueWrapping hand over only what is due, earliest first, and
// follow updates; KeyObjects lists the objects keys refer to.
func dueIndexes(t *testing.T, f Factory) {
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
