package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
)

// A restored store drops its pool (the old store may have handed those
// keys out after the snapshot) and lets go of the objects being made at the
// snapshot (they may hold material acknowledged after it); what records
// name stays owned.
func TestPrepareRestored(t *testing.T) {
	ctx := ctxT(t)
	st, err := bolt.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, id := range []string{"pooled", "issued", "in-flight"} {
		if err := st.OwnObject(ctx, id, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"issued", "pooled"} {
		if err := st.AddPooled(ctx, &store.WrappingKey{ID: id, Spec: string(service.WrappingRSA2048), Created: now}); err != nil {
			t.Fatal(err)
		}
		if id == "issued" {
			if _, err := st.ClaimPooled(ctx, string(service.WrappingRSA2048), func(w *store.WrappingKey) {
				w.KeyID, w.Algorithm, w.Expires = "key-1", "RSAES_OAEP_SHA_256", now.Add(time.Hour)
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := service.PrepareRestored(ctx, st, service.Snapshot{ID: "s1"})
	if err != nil || r.PoolDropped != 1 || r.InFlight != 1 {
		t.Fatalf("PrepareRestored: %+v, %v", r, err)
	}
	var owned, wrapping []string
	_ = st.EachOwned(ctx, func(id string, _ time.Time) bool { owned = append(owned, id); return true })
	_ = st.EachWrapping(ctx, func(w *store.WrappingKey) bool { wrapping = append(wrapping, w.ID); return true })
	if strings.Join(owned, ",") != "issued,pooled" || strings.Join(wrapping, ",") != "issued" {
		t.Errorf("ledger %v, wrapping keys %v; want the in-flight object released, the pooled record dropped and its object still owned (start-up destroys it)", owned, wrapping)
	}
	if v, _ := st.Meta(ctx, store.MetaRestoredFrom); !strings.Contains(v, `"id":"s1"`) {
		t.Errorf("restored_from = %q", v)
	}
}
