package main

import (
	"context"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/metrics"
	"github.com/keyport-kms/keyport/service"
)

// timedToken is the HSM with each operation of hsm.Token timed into
// keyport_hsm_operation_duration_seconds; everything else of *hsm.HSM
// (capabilities, ping, object listing) passes through by embedding. It
// lives in the wiring so that neither hsm knows metrics nor metrics hsm.
type timedToken struct {
	*hsm.HSM
	observe func(op string, d time.Duration) // metrics.Metrics.HSMOperation
}

func (t *timedToken) since(op string, start time.Time) { t.observe(op, time.Since(start)) }

func (t *timedToken) GenerateKeyPair(ctx context.Context, spec hsm.PairSpec, label string, id hsm.KeyID) (hsm.KeyPair, error) {
	defer t.since("generate_key_pair", time.Now())
	return t.HSM.GenerateKeyPair(ctx, spec, label, id)
}

func (t *timedToken) GenerateSigningPair(ctx context.Context, spec hsm.SigningSpec, label string, id hsm.KeyID) (hsm.KeyPair, error) {
	defer t.since("generate_signing_pair", time.Now())
	return t.HSM.GenerateSigningPair(ctx, spec, label, id)
}

func (t *timedToken) Sign(ctx context.Context, id hsm.KeyID, alg hsm.SignAlgorithm, digest []byte) ([]byte, error) {
	defer t.since("sign", time.Now())
	return t.HSM.Sign(ctx, id, alg, digest)
}

func (t *timedToken) ImportPrivateKey(ctx context.Context, req hsm.PrivateKeyRequest) (hsm.KeyID, error) {
	defer t.since("import_private_key", time.Now())
	return t.HSM.ImportPrivateKey(ctx, req)
}

func (t *timedToken) Decrypt(ctx context.Context, id hsm.KeyID, alg hsm.Algorithm, ct []byte) ([]byte, error) {
	defer t.since("decrypt", time.Now())
	return t.HSM.Decrypt(ctx, id, alg, ct)
}

func (t *timedToken) ImportAES(ctx context.Context, req hsm.ImportRequest) (hsm.Imported, error) {
	defer t.since("import_aes", time.Now())
	return t.HSM.ImportAES(ctx, req)
}

func (t *timedToken) SecretKey(ctx context.Context, req hsm.SecretKeyRequest) (hsm.KeyID, error) {
	defer t.since("secret_key", time.Now())
	return t.HSM.SecretKey(ctx, req)
}

func (t *timedToken) Seal(ctx context.Context, key hsm.SealKey, pt, aad []byte) ([]byte, error) {
	defer t.since("seal", time.Now())
	return t.HSM.Seal(ctx, key, pt, aad)
}

func (t *timedToken) Open(ctx context.Context, key hsm.SealKey, sealed, aad []byte) ([]byte, error) {
	defer t.since("open", time.Now())
	return t.HSM.Open(ctx, key, sealed, aad)
}

func (t *timedToken) MAC(ctx context.Context, id hsm.KeyID, data []byte) ([]byte, error) {
	defer t.since("mac", time.Now())
	return t.HSM.MAC(ctx, id, data)
}

func (t *timedToken) Delete(ctx context.Context, id hsm.KeyID) error {
	defer t.since("delete", time.Now())
	return t.HSM.Delete(ctx, id)
}

// metricsState is what /metrics shows of the service's Health.
func metricsState(h service.Health) metrics.State {
	st := metrics.State{HSMUp: h.HSMUp, TokenObjects: h.TokenObjects, PoolKnown: h.PoolErr == nil,
		Pooled: map[string]int{}, Inline: map[string]int64{}}
	for spec, n := range h.Pool.Pooled {
		st.Pooled[string(spec)] = n
	}
	for spec, n := range h.Pool.InlineBySpec {
		st.Inline[string(spec)] = n
	}
	return st
}
