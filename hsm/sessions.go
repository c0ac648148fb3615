package hsm

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
)

// sessionPool is a bounded pool of read-write sessions on one slot.
// Login state is per application in PKCS#11, so every session shares the
// one login. A session that hit a fatal error is closed, never pooled.
type sessionPool struct {
	mod  *pkcs11.Ctx
	slot uint
	wait time.Duration

	slots  chan struct{}             // one token per session that may exist
	idle   chan pkcs11.SessionHandle // open sessions nobody holds
	mu     sync.Mutex                // guards closed
	closed bool
	onWait func(time.Duration) // Config.OnSessionWait
}

func newSessionPool(mod *pkcs11.Ctx, slot uint, max int, wait time.Duration) *sessionPool {
	return &sessionPool{
		mod:   mod,
		slot:  slot,
		wait:  wait,
		slots: make(chan struct{}, max),
		idle:  make(chan pkcs11.SessionHandle, max),
	}
}

// get returns a session, opening one if the pool has room. It waits at most
// the pool's wait time or until ctx ends, then fails with ErrUnavailable.
func (p *sessionPool) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	select {
	case p.slots <- struct{}{}: // a free session: no wait, no timer
		if p.onWait != nil {
			p.onWait(0)
		}
	default:
		if err := p.await(ctx); err != nil {
			return 0, err
		}
	}
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	s, err := p.mod.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		<-p.slots
		return 0, fmt.Errorf("open session: %w", err)
	}
	return s, nil
}

// await waits for a session slot, at most p.wait.
func (p *sessionPool) await(ctx context.Context) error {
	start := time.Now()
	if p.onWait != nil {
		defer func() { p.onWait(time.Since(start)) }()
	}
	timer := time.NewTimer(p.wait)
	defer timer.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for a session: %w", ErrUnavailable, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("%w: no free session within %s", ErrUnavailable, p.wait)
	}
}

// put hands a healthy session back.
func (p *sessionPool) put(s pkcs11.SessionHandle) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		_ = p.mod.CloseSession(s)
	} else {
		p.idle <- s
	}
	<-p.slots
}

// discard closes a session that must not be used again.
func (p *sessionPool) discard(s pkcs11.SessionHandle) {
	_ = p.mod.CloseSession(s)
	<-p.slots
}

// close closes the idle sessions; held ones are closed when handed back.
func (p *sessionPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case s := <-p.idle:
			_ = p.mod.CloseSession(s)
		default:
			return
		}
	}
}
