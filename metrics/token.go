package metrics

import (
	"context"
	"time"

	"github.com/keyport-kms/keyport/hsm"
)

// TimedToken is the HSM with each operation of hsm.Token timed into
// keyport_hsm_operation_duration_seconds; everything else of *hsm.HSM
// (capabilities, ping, object listing) passes through by embedding.
type TimedToken struct {
	*hsm.HSM
	m *Metrics
}

// Instrument times tok's operations.
func (m *Metrics) Instrument(tok *hsm.HSM) *TimedToken { return &TimedToken{HSM: tok, m: m} }

func (t *TimedToken) since(op string, start time.Time) {
	t.m.hsmOps.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (t *TimedToken) GenerateKeyPair(ctx context.Context, spec hsm.PairSpec, label string, id hsm.KeyID) (hsm.KeyPair, error) {
	defer t.since("generate_key_pair", time.Now())
	return t.HSM.GenerateKeyPair(ctx, spec, label, id)
}

func (t *TimedToken) Decrypt(ctx context.Context, id hsm.KeyID, alg hsm.Algorithm, ct []byte) ([]byte, error) {
	defer t.since("decrypt", time.Now())
	return t.HSM.Decrypt(ctx, id, alg, ct)
}

func (t *TimedToken) ImportAES(ctx context.Context, req hsm.ImportRequest) (hsm.Imported, error) {
	defer t.since("import_aes", time.Now())
	return t.HSM.ImportAES(ctx, req)
}

func (t *TimedToken) SecretKey(ctx context.Context, req hsm.SecretKeyRequest) (hsm.KeyID, error) {
	defer t.since("secret_key", time.Now())
	return t.HSM.SecretKey(ctx, req)
}

func (t *TimedToken) Seal(ctx context.Context, key hsm.SealKey, pt, aad []byte) ([]byte, error) {
	defer t.since("seal", time.Now())
	return t.HSM.Seal(ctx, key, pt, aad)
}

func (t *TimedToken) Open(ctx context.Context, key hsm.SealKey, sealed, aad []byte) ([]byte, error) {
	defer t.since("open", time.Now())
	return t.HSM.Open(ctx, key, sealed, aad)
}

func (t *TimedToken) MAC(ctx context.Context, id hsm.KeyID, data []byte) ([]byte, error) {
	defer t.since("mac", time.Now())
	return t.HSM.MAC(ctx, id, data)
}

func (t *TimedToken) Delete(ctx context.Context, id hsm.KeyID) error {
	defer t.since("delete", time.Now())
	return t.HSM.Delete(ctx, id)
}
