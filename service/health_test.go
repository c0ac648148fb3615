package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
)

// probeCounter counts what a health probe asks of the token.
type probeCounter struct {
	*hsm.HSM
	pings, listings atomic.Int64
}

func (p *probeCounter) Ping(ctx context.Context) error { p.pings.Add(1); return p.HSM.Ping(ctx) }

func (p *probeCounter) Objects(ctx context.Context) ([]hsm.Object, error) {
	p.listings.Add(1)
	return p.HSM.Objects(ctx)
}

// TestHealthIsShared: however many callers ask at once, and however often,
// the token is probed at most once per HealthMaxAge.
func TestHealthIsShared(t *testing.T) {
	var counter *probeCounter
	e := newEnv(t, func(o *service.Options) {
		counter = &probeCounter{HSM: o.Token.(*hsm.HSM)}
		o.Token = counter
	})
	ctx := ctxT(t)
	// The object count comes from the background, a probe or two later.
	h := e.svc.Health(ctx)
	for deadline := time.Now().Add(3 * time.Second); h.TokenObjects < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		h = e.svc.Health(ctx)
	}
	if !h.HSMUp || h.TokenObjects < 2 {
		t.Fatalf("health: %+v", h)
	}
	start, pings, listings := time.Now(), counter.pings.Load(), counter.listings.Load()
	var wg sync.WaitGroup
	var calls atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 1500*time.Millisecond {
				e.svc.Health(ctx)
				calls.Add(1)
			}
		}()
	}
	wg.Wait()
	probes := max(counter.pings.Load()-pings, counter.listings.Load()-listings)
	if allowed := int64(time.Since(start)/service.HealthMaxAge) + 1; probes > allowed || calls.Load() < 1000 {
		t.Fatalf("%d calls probed the token %d times in %v, more than %d", calls.Load(), probes, time.Since(start), allowed)
	}
}
