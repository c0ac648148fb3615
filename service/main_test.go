package service_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/pgserver"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/softhsm"
	"github.com/keyport-kms/keyport/store/bolt"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(durabilityChild())
	}
	os.Exit(func() int {
		defer pgserver.StopShared()
		return softhsm.Main(m)
	}())
}

// clock is an injectable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	svc   *service.Service
	h     *hsm.HSM
	st    *bolt.Store
	clock *clock
	tok   *softhsm.Token
	dir   string
}

// newEnv runs a service on a fresh SoftHSM token and data directory, with
// small pools and the background collector off.
func newEnv(t testing.TB, opts ...func(*service.Options)) *env {
	t.Helper()
	tok := softhsm.New(t)
	e := &env{tok: tok, dir: t.TempDir(), clock: &clock{t: time.Now()}}
	e.open(t, opts...)
	return e
}

func (e *env) open(t testing.TB, opts ...func(*service.Options)) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hsm.Open(context.Background(), hsm.Config{Module: e.tok.Module, TokenLabel: e.tok.Label, PIN: e.tok.PIN, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Create(e.dir)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	o := service.Options{Token: h, Store: st, Now: e.clock.Now, PoolRSA: 2, PoolSM2: 2, PoolRSAMax: 2, PoolSM2Max: 2, PoolRSALarge: -1, CollectEvery: -1, Reconcile: true, Logger: quiet} // a fixed pool, unless a test asks for growth
	for _, f := range opts {
		f(&o)
	}
	svc, err := service.New(context.Background(), o)
	if err != nil {
		st.Close()
		h.Close()
		t.Fatal(err)
	}
	e.svc, e.h, e.st = svc, h, st
	t.Cleanup(e.close)
}

func (e *env) close() {
	if e.svc == nil {
		return
	}
	e.svc.Close()
	e.st.Close()
	e.h.Close()
	e.svc = nil
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wrapMaterial encrypts material to an import public key as a cloud user
// does; t may be nil in the durability child, where a failure panics.
func wrapMaterial(t testing.TB, publicDER []byte, alg service.WrappingAlgorithm, material []byte) []byte {
	out, err := byok.Wrap(publicDER, string(alg), material)
	if err != nil {
		if t == nil {
			panic(err)
		}
		t.Helper()
		t.Fatal(err)
	}
	return out
}

func specFor(alg service.WrappingAlgorithm) service.WrappingKeySpec {
	return service.WrappingKeySpec(byok.Spec(string(alg)))
}

// importNew creates an EXTERNAL key and imports fresh material into it.
func (e *env) importNew(t testing.TB, spec service.KeySpec, level service.ProtectionLevel, alg service.WrappingAlgorithm) (*service.KeyMetadata, []byte) {
	t.Helper()
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: spec, Origin: service.OriginExternal, Protection: level})
	if err != nil {
		t.Fatal(err)
	}
	material := make([]byte, spec.MaterialSize())
	_, _ = rand.Read(material)
	e.importMaterial(t, md.KeyID, alg, material)
	return md, material
}

func (e *env) importMaterial(t testing.TB, keyID string, alg service.WrappingAlgorithm, material []byte) {
	t.Helper()
	ctx := ctxT(t)
	p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: keyID, Spec: specFor(alg), Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{
		KeyID: keyID, EncryptedMaterial: wrapMaterial(t, p.PublicKey, alg, material), ImportToken: p.ImportToken,
	}); err != nil {
		t.Fatal(err)
	}
}

// label is the label this deployment gives token objects of what.
func (e *env) label(what string) string { return "keyport/" + e.svc.Deployment() + "/" + what }

// countObjectsByID counts the token objects with CKA_ID id.
func countObjectsByID(t testing.TB, h *hsm.HSM, id string) int {
	return countWhere(t, h, func(o hsm.Object) bool { return o.ID == id })
}

// countObjects counts the token objects whose label starts with prefix
// (all with ""). The pool refills in the background, so tests that count
// while it may run count material objects only.
func countObjects(t testing.TB, h *hsm.HSM, prefix string) int {
	return countWhere(t, h, func(o hsm.Object) bool { return strings.HasPrefix(o.Label, prefix) })
}

func countWhere(t testing.TB, h *hsm.HSM, match func(hsm.Object) bool) int {
	t.Helper()
	objs, err := h.Objects(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range objs {
		if match(o) {
			n++
		}
	}
	return n
}
