package service

import (
	"context"
	"sync"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// HealthMaxAge is the oldest a Health the operational endpoints show may
// be: /readyz and /metrics are unauthenticated, so however often they are
// hit, the token and the store are probed at most once in this time. Short
// enough that /readyz turns 503 within a second of a fault.
const HealthMaxAge = 500 * time.Millisecond

// Health is the service's state as /readyz and /metrics show it.
type Health struct {
	At           time.Time
	Ready        error // nil when the service can take requests (see Ready)
	HSMUp        bool  // the token answers and the session is logged in
	TokenObjects int   // this deployment's token objects, pairs once; -1 if they could not be counted
	Pool         PoolStats
	PoolErr      error
}

// healthProbe shares one probe among every caller: a caller finds a fresh
// Health, or waits for the probe under way, or runs the next one.
type healthProbe struct {
	mu      sync.Mutex
	last    *Health
	running chan struct{}
	// The token-object count (a metric) is counted in the background:
	// listing every object on a network HSM under load takes longer than
	// the rest of a probe, and must not hold up readiness.
	objects   int       // the last count; valid once countedAt is set
	countedAt time.Time // when it was counted
	counting  bool
	recheck   bool // Recheck was called while a probe ran: its answer is not kept
}

// Health returns the service's state, at most HealthMaxAge old.
func (s *Service) Health(ctx context.Context) Health {
	p := &s.health
	for {
		p.mu.Lock()
		if h := p.last; h != nil && time.Since(h.At) < HealthMaxAge {
			p.mu.Unlock()
			return *h
		}
		if ch := p.running; ch != nil {
			p.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return Health{At: time.Now(), Ready: wrapErr(KindUnavailable, ctx.Err(), "waiting for the health probe"), TokenObjects: -1}
			}
		}
		ch := make(chan struct{})
		p.running = ch
		p.mu.Unlock()

		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		h := s.probe(pctx, true) // its own context: no caller's cancellation cuts it short for the others
		cancel()
		p.mu.Lock()
		p.last, p.running = &h, nil
		if p.recheck { // what it saw may predate the failure Recheck was told of
			stale := h
			stale.At = time.Time{}
			p.last, p.recheck = &stale, false
		}
		p.mu.Unlock()
		close(ch)
		return h
	}
}

// recheckAfter is how old a Health must be before Recheck drops it: a
// burst of failures probes no more often than this.
const recheckAfter = 100 * time.Millisecond

// Recheck makes the next Health probe again rather than answer from the
// last probe, if that is older than recheckAfter: for a failure something
// beside the service saw first (the audit log's disk full), so that
// /readyz says so at once.
func (s *Service) Recheck() {
	p := &s.health
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running != nil {
		p.recheck = true
		return
	}
	if p.last != nil && time.Since(p.last.At) >= recheckAfter {
		stale := *p.last
		stale.At = time.Time{}
		p.last = &stale
	}
}

// lastHealth is the last probe's Health, nil before the first.
func (p *healthProbe) lastHealth() *Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// countObjectsForHealth returns the last token-object count (-1 before
// the first, or while the token is away) and, once it is HealthMaxAge old,
// starts counting again in the background.
func (s *Service) countObjectsForHealth(tokenUp bool) int {
	p := &s.health
	p.mu.Lock()
	defer p.mu.Unlock()
	if !tokenUp {
		p.countedAt = time.Time{}
		return -1
	}
	if !p.counting && time.Since(p.countedAt) >= HealthMaxAge {
		p.counting = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n, err := s.CountTokenObjects(ctx)
			p.mu.Lock()
			defer p.mu.Unlock()
			p.counting = false
			if err != nil {
				p.countedAt = time.Time{}
				return
			}
			p.objects, p.countedAt = n, time.Now()
		}()
	}
	if p.countedAt.IsZero() {
		return -1
	}
	return p.objects
}

// readiness is a check of something beside the service that requests
// need, such as the audit log.
type readiness struct {
	what  string
	check func(context.Context) error
}

// AlsoReady makes readiness need check as well (at most once per
// HealthMaxAge, like the token and the store): for the audit log, whose
// failure refuses every request, and whose check writes once it can again,
// so that a replica the load balancer took out of rotation comes back
// without a request to wake it.
func (s *Service) AlsoReady(what string, check func(context.Context) error) {
	s.alsoReady.Store(&readiness{what, check})
}

// probe checks the token, the store and the pool once; with objects, it
// also counts this deployment's token objects.
func (s *Service) probe(ctx context.Context, objects bool) Health {
	h := Health{TokenObjects: -1}
	// The token, the store (with the pool's counts) and the extra check
	// run at once, and the probe ends as soon as the store or the extra
	// check fails: under load the token's ping waits for a free session,
	// and a database gone must not wait for it to turn /readyz 503. The
	// token's state is then the last probe's.
	type part struct {
		token, store, also bool
		err, poolErr       error
		pool               PoolStats
	}
	parts := make(chan part, 3) // buffered: a part that ends after the probe does not block
	go func() {
		var err error
		if p, ok := s.tok.(pinger); ok {
			err = p.Ping(ctx)
		}
		parts <- part{token: true, err: err}
	}()
	go func() {
		var err error
		if p, ok := s.st.(pinger); ok {
			err = p.Ping(ctx)
		}
		pool, poolErr := s.PoolStats(ctx)
		parts <- part{store: true, err: err, pool: pool, poolErr: poolErr}
	}()
	go func() {
		var err error
		if r := s.alsoReady.Load(); r != nil {
			if cerr := r.check(ctx); cerr != nil {
				err = wrapErr(KindUnavailable, cerr, "%s: not ready", r.what)
			}
		}
		parts <- part{also: true, err: err}
	}()
	var tokErr, storeErr, alsoErr error
	tokenKnown := false
	h.PoolErr = errorf(KindUnavailable, "the pool was not counted")
	for range 3 {
		p := <-parts
		switch {
		case p.token:
			tokErr, tokenKnown = p.err, true
		case p.store:
			storeErr, h.Pool, h.PoolErr = p.err, p.pool, p.poolErr
		case p.also:
			alsoErr = p.err
		}
		if storeErr != nil || alsoErr != nil {
			break
		}
	}
	if tokenKnown {
		h.HSMUp = tokErr == nil
	} else if last := s.health.lastHealth(); last != nil {
		h.HSMUp = last.HSMUp
	}
	if objects {
		h.TokenObjects = s.countObjectsForHealth(h.HSMUp)
	}
	switch {
	case tokErr != nil:
		h.Ready = hsmError("HSM", tokErr)
	case storeErr != nil:
		h.Ready = storeError("store", storeErr)
	case alsoErr != nil:
		h.Ready = alsoErr
	case h.PoolErr != nil:
		h.Ready = h.PoolErr
	case !s.st.Shared():
		// Empty at start, or empty and not refilling: an empty pool
		// whose pairs are claimed as fast as they are made still serves.
		// (Replicas share one pool, which one of them refills under a
		// lease: the others see it empty without refilling it, and serve
		// all the same, generating inline when it is.)
		for spec := range s.pool.bounds {
			if h.Pool.Pooled[spec] == 0 && !s.pool.producing(spec) {
				h.Ready = errorf(KindUnavailable, "the %s wrapping-key pool is empty and not refilling", spec)
				break
			}
		}
	}
	h.At = time.Now()
	return h
}

// AuditKey is the deployment's audit-log key, made on first use: its id on
// the token and HMAC-SHA256 under it, in the HSM.
func (s *Service) AuditKey(ctx context.Context) (deployment string, key hsm.KeyID, mac func(context.Context, []byte) ([]byte, error), err error) {
	id, err := s.masterKey(ctx, store.MetaAuditMAC, auditKeyName, hsm.HMACSHA256)
	if err != nil {
		return "", "", nil, hsmError("audit key", err)
	}
	return s.deployment, id, func(ctx context.Context, data []byte) ([]byte, error) { return s.tok.MAC(ctx, id, data) }, nil
}
