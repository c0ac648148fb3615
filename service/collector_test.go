package service_test

import (
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service"
)

// 500 GetParametersForImport calls whose tokens then expire: the collector
// brings the token's object count back to the bound of pool + live tokens +
// key material + master keys.
func TestCollectorBoundsTokenObjects(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	e.importMaterial(t, md.KeyID, service.AlgSM2PKE, make([]byte, 32))
	const calls = 500
	for i := 0; i < calls; i++ {
		if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingSM2, Algorithm: service.AlgSM2PKE}); err != nil {
			t.Fatal(err)
		}
	}
	if n := countObjects(t, e.h, e.label("wrap-sm2")); n < 2*calls {
		t.Fatalf("%d SM2 wrapping objects before expiry, want at least %d", n, 2*calls)
	}
	e.clock.Advance(24*time.Hour + time.Second)
	st, err := e.svc.Collect(ctx)
	if err != nil || st.WrappingKeys != calls+1 {
		t.Fatalf("collect: %+v %v", st, err)
	}
	const pool, masters, material = 2 + 2, 2, 1 // PoolRSA + PoolSM2 pairs, seal + MAC, one HSM-level key
	if n := countObjects(t, e.h, ""); n > 2*pool+masters+material {
		t.Fatalf("%d token objects after collection, bound %d", n, 2*pool+masters+material)
	}
	if _, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("still here")}); err != nil {
		t.Fatalf("the key's material went with the wrapping keys: %v", err)
	}
}

// Pooled wrapping keys live in the store: a restart reuses them rather than
// leaking them and generating more.
func TestPoolSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	waitFull := func() service.PoolStats {
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			st, err := e.svc.PoolStats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pooled[service.WrappingRSA2048] == 2 && st.Pooled[service.WrappingSM2] == 2 {
				return st
			}
		}
		t.Fatal("pool not full within 60 s")
		return service.PoolStats{}
	}
	waitFull()
	before := countObjects(t, e.h, e.label("wrap-"))
	e.close()
	e.open(t)
	st := waitFull()
	if st.Generated != 0 || st.Inline != 0 {
		t.Fatalf("after restart the pool generated %d (+%d inline) pairs it already had", st.Generated, st.Inline)
	}
	if after := countObjects(t, e.h, e.label("wrap-")); after != before {
		t.Fatalf("wrapping objects %d → %d across a restart", before, after)
	}
}

// The pool sizes itself to demand: a burst of claims raises what it keeps
// ready (up to its maximum), and once demand falls the collector retires
// what is beyond its minimum again.
func TestPoolFollowsDemand(t *testing.T) {
	e := newEnv(t, func(o *service.Options) { o.PoolSM2, o.PoolSM2Max = 2, 6 })
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingSM2, Algorithm: service.AlgSM2PKE}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := e.svc.PoolStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Target[service.WrappingSM2] != 6 {
			t.Fatalf("target after 4 claims: %d, want min(6, 2×4)", st.Target[service.WrappingSM2])
		}
		if st.Pooled[service.WrappingSM2] == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not grow to 6: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.clock.Advance(2 * time.Minute)
	st, err := e.svc.Collect(ctx)
	if err != nil || st.PoolRetired != 4 {
		t.Fatalf("collect after demand fell: %+v, %v", st, err)
	}
	if ps, _ := e.svc.PoolStats(ctx); ps.Pooled[service.WrappingSM2] != 2 || ps.Target[service.WrappingSM2] != 2 {
		t.Fatalf("after: %+v", ps)
	}
}
