package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/store"
)

// waitPool blocks until the RSA pool holds want pairs.
func waitPool(b *testing.B, e *env, want int) {
	for {
		st, err := e.svc.PoolStats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if st.Pooled[service.WrappingRSA2048] >= want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkGetParametersForImport: a call served from a warm pool against
// one RSA-2048 key generation in the token, measured in the same run. The
// pool is refilled between calls, off the clock.
func BenchmarkGetParametersForImport(b *testing.B) {
	const poolSize = 4
	e := newEnv(b, func(o *service.Options) { o.PoolRSA = poolSize })
	ctx := context.Background()
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal})
	if err != nil {
		b.Fatal(err)
	}
	var callT, genT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		waitPool(b, e, poolSize)
		t0 := time.Now()
		kp, err := e.h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-bench")
		genT += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		_ = e.h.Delete(ctx, hsm.KeyID(kp.ID))
		b.StartTimer()
		t1 := time.Now()
		if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA256}); err != nil {
			b.Fatal(err)
		}
		callT += time.Since(t1)
	}
	st, _ := e.svc.PoolStats(ctx)
	if st.Inline != 0 {
		b.Fatalf("%d calls generated inline: the pool was not warm", st.Inline)
	}
	b.ReportMetric(float64(genT.Microseconds())/float64(b.N), "keygen-µs/op")
	b.ReportMetric(float64(callT.Microseconds())/float64(b.N), "call-µs/op")
	b.ReportMetric(float64(callT)/float64(genT), "call/keygen")
}

// BenchmarkImportKeyMaterial: a full import of SOFTWARE-level material
// against what it cannot avoid, one HSM decryption plus one store write,
// measured in the same run.
func BenchmarkImportKeyMaterial(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal})
	if err != nil {
		b.Fatal(err)
	}
	p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA1})
	if err != nil {
		b.Fatal(err)
	}
	ct := wrapMaterial(b, p.PublicKey, service.AlgRSAOAEPSHA1, make([]byte, 32))
	var wrapID string
	_ = e.st.EachWrapping(ctx, func(w *store.WrappingKey) bool {
		if w.KeyID == md.KeyID {
			wrapID = w.ID
		}
		return true
	})
	req := service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken, EncryptedMaterial: ct}
	if err := e.svc.ImportKeyMaterial(ctx, req); err != nil {
		b.Fatal(err)
	}
	var importT, rawT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := e.h.Decrypt(ctx, hsm.KeyID(wrapID), hsm.RSAOAEPSHA1, ct); err != nil {
			b.Fatal(err)
		}
		if _, err := e.st.UpdateKey(ctx, md.KeyID, func(*store.Key) error { return nil }); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := e.svc.ImportKeyMaterial(ctx, req); err != nil {
			b.Fatal(err)
		}
		rawT += t1.Sub(t0)
		importT += time.Since(t1)
	}
	b.ReportMetric(float64(rawT.Microseconds())/float64(b.N), "decrypt+write-µs/op")
	b.ReportMetric(float64(importT.Microseconds())/float64(b.N), "import-µs/op")
	b.ReportMetric(float64(importT)/float64(rawT), "import/raw")
}
