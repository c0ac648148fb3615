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
// hit, the token and the store are probed at most once in this time.
const HealthMaxAge = time.Second

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
		p.mu.Unlock()
		close(ch)
		return h
	}
}

// probe checks the token, the store and the pool once; with objects, it
// also counts this deployment's token objects.
func (s *Service) probe(ctx context.Context, objects bool) Health {
	h := Health{TokenObjects: -1}
	var tokErr, storeErr error
	if p, ok := s.tok.(pinger); ok {
		tokErr = p.Ping(ctx)
	}
	h.HSMUp = tokErr == nil
	if p, ok := s.st.(pinger); ok {
		storeErr = p.Ping(ctx)
	}
	if objects {
		if n, err := s.CountTokenObjects(ctx); err == nil {
			h.TokenObjects = n
		}
	}
	h.Pool, h.PoolErr = s.PoolStats(ctx)
	switch {
	case tokErr != nil:
		h.Ready = hsmError("HSM", tokErr)
	case storeErr != nil:
		h.Ready = storeError("store", storeErr)
	case h.PoolErr != nil:
		h.Ready = h.PoolErr
	default:
		// Empty at start, or empty and not refilling: an empty pool
		// whose pairs are claimed as fast as they are made still serves.
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
