// Package service is the key management service itself: CMKs and their
// states, BYOK import with HSM-held wrapping keys, material protection and
// encryption. It knows no wire format; the dialects in service/aliyun and
// service/tencent translate to and from it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// Names of the master keys the service keeps in the token (labels
// keyport/<deployment>/<name>).
const (
	sealKeyName = "master-seal-v1" // AES-256: seals SOFTWARE material and access-key secrets
	macKeyName  = "master-mac-v1"  // HMAC-SHA256: import tokens and material fingerprints
	// auditKeyName MACs the audit log's checkpoints (HMAC-SHA256): a key of
	// its own, so that `keyport audit verify`, which holds it, can forge no
	// import token.
	auditKeyName = "master-audit-mac-v1"
)

// Options configure a Service. Token and Store are required.
type Options struct {
	Token hsm.Token
	Store store.Store

	Now            func() time.Time // clock; time.Now by default
	ImportTokenTTL time.Duration    // lifetime of import tokens; 24h by default

	// Wrapping-key pool: pairs made ahead of demand per spec, at least
	// PoolRSA/PoolSM2 and, as demand rises, up to PoolRSAMax/PoolSM2Max; and
	// how many key generations run at once. Defaults: 16 (up to 64) RSA,
	// 4 (up to 16) SM2, one generation per CPU; a maximum defaults to four
	// times its minimum. A negative minimum keeps no pool for that spec
	// (admin commands).
	PoolRSA, PoolSM2       int
	PoolRSAMax, PoolSM2Max int
	PoolParallelism        int
	// PoolRSALarge is the least RSA-3072 and RSA-4096 pairs kept ready,
	// each (up to four times as many as demand rises); 2 by default,
	// negative for none (each is then generated on its request).
	PoolRSALarge int
	// MaxDecryptFailures bounds failed decryptions per wrapping key before it
	// is destroyed and its token refused (a padding-oracle defence). Default 10.
	MaxDecryptFailures int
	// CollectEvery is how often expired wrapping keys, expired material and
	// keys past their deletion date are destroyed. Default 1 minute; negative
	// turns the background collector off (Collect can still be called).
	CollectEvery time.Duration
	// SecretCacheTTL is how long an unsealed access-key secret is kept in
	// memory, and so how long a credential disabled or deleted elsewhere
	// (another replica, the CLI with the server stopped) may still work
	// here. Default 30 s; changes made through this process apply at once.
	SecretCacheTTL time.Duration
	// Reconcile makes New destroy this deployment's token objects that the
	// store does not know and adopt legacy ones it refers to. Only the
	// server sets it; admin commands never change the token on opening.
	Reconcile bool
	// OrphanGrace is, on a store replicas share, how long an unrecorded
	// token object must stay unrecorded before reconcile destroys it: longer
	// than any replica takes between making an object and recording it.
	// Default 2 minutes.
	OrphanGrace time.Duration
	// MinVersionInterval is the least time between two versions of a key,
	// counted from the last one made (Alibaba Cloud: seven days). Default
	// 7 days; negative: no minimum.
	MinVersionInterval time.Duration

	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ImportTokenTTL <= 0 {
		o.ImportTokenTTL = 24 * time.Hour
	}
	if o.PoolRSA == 0 {
		o.PoolRSA = 16
	}
	if o.PoolSM2 == 0 {
		o.PoolSM2 = 4
	}
	if o.PoolRSAMax == 0 {
		o.PoolRSAMax = 4 * o.PoolRSA
	}
	o.PoolRSAMax = max(o.PoolRSAMax, o.PoolRSA)
	if o.PoolSM2Max == 0 {
		o.PoolSM2Max = 4 * o.PoolSM2
	}
	o.PoolSM2Max = max(o.PoolSM2Max, o.PoolSM2)
	if o.PoolRSALarge == 0 {
		o.PoolRSALarge = 2
	}
	if o.PoolParallelism <= 0 {
		o.PoolParallelism = max(2, runtime.NumCPU())
	}
	if o.MaxDecryptFailures <= 0 {
		o.MaxDecryptFailures = 10
	}
	if o.CollectEvery == 0 {
		o.CollectEvery = time.Minute
	}
	if o.OrphanGrace <= 0 {
		o.OrphanGrace = 2 * time.Minute
	}
	switch {
	case o.MinVersionInterval == 0:
		o.MinVersionInterval = MinRotationInterval
	case o.MinVersionInterval < 0:
		o.MinVersionInterval = 0
	}
	if o.SecretCacheTTL <= 0 {
		o.SecretCacheTTL = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Service is the KMS. It is safe for concurrent use.
type Service struct {
	opt       Options
	health    healthProbe // shared by the operational endpoints
	alsoReady atomic.Pointer[readiness]
	tok       hsm.Token
	st        store.Store
	log       *slog.Logger

	deployment string // carried in every token object label
	legacy     bool   // the store predates deployment ids

	sealKey hsm.KeyID
	macKey  hsm.KeyID
	master  hsm.SealKey // sealKey with macKey, for the encrypt-then-MAC schemes
	sm2     bool        // the token can decrypt SM2PKE
	etm     bool        // the token seals by encrypt-then-MAC (no AES-GCM)
	// signs and signingSpecs are what the token signs with and generates
	// (the probe's table).
	signs        map[hsm.SignAlgorithm]bool
	signingSpecs map[hsm.SigningSpec]bool
	// decrypts is what the token decrypts with (wrapping keys and
	// asymmetric decryption keys alike).
	decrypts map[hsm.Algorithm]bool
	pool     *pool
	secrets  *secretCache
	// grants and keyPolicies are the compiled policies authorisation
	// reads (authorize.go).
	grants      *grantCache
	keyPolicies keyPolicyCache

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// capabler is implemented by hsm.HSM; a token without it is assumed to do
// every algorithm.
type capabler interface{ Capabilities() hsm.Capabilities }

// New starts the service: it finds or creates the master keys, reconciles
// the token with the store if asked, and starts the pool refiller and the
// collector.
func New(ctx context.Context, opt Options) (*Service, error) {
	if opt.Token == nil || opt.Store == nil {
		return nil, errors.New("service: Token and Store are required")
	}
	opt.defaults()
	s := &Service{opt: opt, tok: opt.Token, st: opt.Store, log: opt.Logger, sm2: true,
		secrets: newSecretCache(opt.SecretCacheTTL, opt.Now), grants: newGrantCache(opt.SecretCacheTTL, opt.Now)}
	if c, ok := opt.Token.(capabler); ok {
		s.sm2 = c.Capabilities().Decrypt[hsm.SM2PKE] != hsm.PathNone
		s.etm = c.Capabilities().Seal != hsm.SealGCM
		s.signs, s.signingSpecs = c.Capabilities().Sign, c.Capabilities().SigningSpecs
		s.decrypts = map[hsm.Algorithm]bool{}
		for alg, path := range c.Capabilities().Decrypt {
			s.decrypts[alg] = path != hsm.PathNone
		}
	} else {
		s.signs, s.signingSpecs, s.decrypts = map[hsm.SignAlgorithm]bool{}, map[hsm.SigningSpec]bool{}, map[hsm.Algorithm]bool{}
		for _, a := range hsm.Algorithms() {
			s.decrypts[a] = true
		}
		for _, a := range hsm.SignAlgorithms() {
			s.signs[a] = true
		}
		for _, sp := range hsm.SigningSpecs() {
			s.signingSpecs[sp] = true
		}
	}
	var err error
	if s.deployment, err = s.st.Meta(ctx, store.MetaDeployment); err != nil || !validDeployment(s.deployment) {
		return nil, fmt.Errorf("store has no valid deployment id (%q): %w", s.deployment, err)
	}
	legacy, err := s.st.Meta(ctx, store.MetaLegacyObjects)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s.legacy = legacy == "true"
	if s.sealKey, err = s.masterKey(ctx, store.MetaMasterSeal, sealKeyName, hsm.AES256); err != nil {
		return nil, fmt.Errorf("master seal key: %w", err)
	}
	if s.macKey, err = s.masterKey(ctx, store.MetaMasterMAC, macKeyName, hsm.HMACSHA256); err != nil {
		return nil, fmt.Errorf("master MAC key: %w", err)
	}
	s.master = hsm.SealKey{Cipher: s.sealKey, MAC: s.macKey}
	if opt.Reconcile && !s.st.Shared() {
		if err := s.reconcile(ctx, 0); err != nil {
			return nil, fmt.Errorf("reconcile token objects: %w", err)
		}
	}
	bounds := map[WrappingKeySpec]poolBounds{}
	if opt.PoolRSA > 0 {
		bounds[WrappingRSA2048] = poolBounds{opt.PoolRSA, opt.PoolRSAMax}
	}
	if s.sm2 && opt.PoolSM2 > 0 {
		bounds[WrappingSM2] = poolBounds{opt.PoolSM2, opt.PoolSM2Max}
	}
	if opt.PoolRSALarge > 0 {
		bounds[WrappingRSA3072] = poolBounds{opt.PoolRSALarge, 4 * opt.PoolRSALarge}
		bounds[WrappingRSA4096] = poolBounds{opt.PoolRSALarge, 4 * opt.PoolRSALarge}
	}
	s.pool = newPool(s, bounds, opt.PoolParallelism)

	bg, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.pool.run(bg) }()
	if opt.CollectEvery > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.collectLoop(bg) }()
	}
	if opt.Reconcile && s.st.Shared() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.reconcile(bg, opt.OrphanGrace); err != nil && bg.Err() == nil {
				s.log.Warn("reconcile token objects", "err", err)
			}
		}()
	}
	return s, nil
}

// Close stops the background work and waits for it. It does not close the
// token or the store, which the caller owns.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

func (s *Service) now() time.Time { return s.opt.Now() }

// hsmError classifies an HSM failure that is not about the request.
func hsmError(op string, err error) error {
	switch {
	case errors.Is(err, hsm.ErrUnavailable):
		return wrapErr(KindUnavailable, err, "%s: the HSM is unavailable, try again", op)
	case errors.Is(err, hsm.ErrUnsupported):
		return wrapErr(KindUnsupportedAlgorithm, err, "%s: not supported by this HSM", op)
	}
	return wrapErr(KindInternal, err, "%s failed", op)
}

// storeError classifies a store failure.
func storeError(op string, err error) error {
	var se *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err // a rule a store transaction's fn enforced
	case errors.Is(err, store.ErrUnavailable):
		return wrapErr(KindUnavailable, err, "%s: the store is unavailable, try again", op)
	}
	return wrapErr(KindInternal, err, "%s: store", op)
}

// pinger is implemented by hsm.HSM and postgres.Store.
type pinger interface {
	Ping(ctx context.Context) error
}

// Ready reports whether the service can take requests: the HSM answers and
// is logged in, the store (a database, for replicas) answers, and the pool
// holds a wrapping key of every spec it keeps or made one in the last
// producingWithin (imports may claim them as fast as they come). It probes now; the
// operational endpoints use Health.
func (s *Service) Ready(ctx context.Context) error { return s.probe(ctx, false).Ready }
