package hsm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/miekg/pkcs11"
)

// HSM is a logged-in token. It is safe for concurrent use. When the token
// goes away (removed, module reset, network HSM down) calls fail fast with
// ErrUnavailable and the next call after RetryInterval tries to reconnect,
// so the service recovers without a restart.
type HSM struct {
	cfg  Config
	log  *slog.Logger
	caps Capabilities

	mu           sync.Mutex
	conn         *conn // nil while the token is away
	closing      bool  // a dead conn is being torn down
	reconnecting bool
	lastTry      time.Time
	lastErr      error
	closed       bool
}

// Open validates cfg, loads the module, logs in to the token and detects
// which mechanisms it can use for each algorithm.
func Open(ctx context.Context, cfg Config) (*HSM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c, err := openConn(cfg)
	if err != nil {
		return nil, err
	}
	h := &HSM{cfg: cfg, log: cfg.Logger, conn: c}
	h.caps, err = h.detect(context.WithValue(ctx, untimedKey{}, true), !cfg.SkipProbe)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("detect token capabilities: %w", err)
	}
	if !cfg.SkipProbe {
		h.caps.log(h.log, cfg.tokenName())
	}
	return h, nil
}

// Capabilities reports what Open detected.
func (h *HSM) Capabilities() Capabilities { return h.caps }

// Close logs out and releases the module. Later calls fail with ErrClosed.
func (h *HSM) Close() {
	h.mu.Lock()
	c := h.conn
	h.conn, h.closed = nil, true
	h.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// Ping checks that the token answers and the login holds.
func (h *HSM) Ping(ctx context.Context) error {
	return h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		in, err := c.loggedIn(s)
		if err == nil && !in {
			err = pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
		}
		return err
	})
}

// acquire returns the live conn, read-locked for one operation, or rebuilds
// it if the token was lost and the retry interval has passed.
func (h *HSM) acquire() (*conn, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if c := h.conn; c != nil {
		c.inflight.RLock()
		h.mu.Unlock()
		return c, nil
	}
	if h.closing || h.reconnecting || time.Since(h.lastTry) < h.cfg.RetryInterval {
		err := h.lastErr
		h.mu.Unlock()
		return nil, unavailable(err)
	}
	h.reconnecting, h.lastTry = true, time.Now()
	h.mu.Unlock()

	c, err := openConn(h.cfg)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.reconnecting = false
	if err != nil {
		h.lastErr = err
		h.log.Warn("hsm: reconnect failed", "token", h.cfg.tokenName(), "err", err)
		return nil, unavailable(err)
	}
	if h.closed {
		go c.close()
		return nil, ErrClosed
	}
	h.log.Info("hsm: token connection restored", "token", h.cfg.tokenName())
	h.conn, h.lastErr = c, nil
	c.inflight.RLock()
	return c, nil
}

// markDown drops a conn whose token went away and tears it down once the
// calls still running on it have returned.
func (h *HSM) markDown(c *conn, cause error) {
	h.mu.Lock()
	if h.conn != c {
		h.mu.Unlock()
		return
	}
	h.conn, h.closing, h.lastErr = nil, true, cause
	h.lastTry = time.Time{} // the first call after teardown may try at once
	h.mu.Unlock()
	h.log.Warn("hsm: token lost; reconnecting on next use", "token", h.cfg.tokenName(), "err", cause)
	// The teardown waits for the calls still inside the library; none of
	// them, nor the caller, waits for it: calls fail fast meanwhile.
	go func() {
		c.close()
		h.mu.Lock()
		h.closing = false
		h.mu.Unlock()
	}()
}

type untimedKey struct{}

// errStuck: a call into the PKCS#11 library did not return in time (a
// network HSM's client library waiting on a connection that is gone).
var errStuck = errors.New("a call into the PKCS#11 library did not return in time")

// call runs fn on the conn and session under a watchdog: if ctx ends first
// the caller gets ErrUnavailable at once, and if the library does not
// answer within CallTimeout the connection is also given up. An abandoned
// call keeps its session and its hold on the conn until the library
// returns, if ever; abandoned reports that the caller must not release them.
func (h *HSM) call(ctx context.Context, c *conn, s pkcs11.SessionHandle, mode lockMode, fn func(c *conn, s pkcs11.SessionHandle) error) (err error, abandoned bool) {
	if !h.cfg.watchdog {
		return c.exclusive(mode, s, func() error { return fn(c, s) }), false
	}
	done := make(chan error, 1)
	go func() { done <- c.exclusive(mode, s, func() error { return fn(c, s) }) }()
	limit := h.cfg.CallTimeout
	if untimed, _ := ctx.Value(untimedKey{}).(bool); untimed {
		limit = time.Duration(1<<63 - 1) // the start-up probe: bounded by Open's context only
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		return err, false
	case <-ctx.Done():
		err = fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-timer.C:
		h.markDown(c, errStuck)
		err = unavailable(errStuck)
	}
	go func() {
		if classify(<-done) == failNone && !errors.Is(err, errStuck) {
			c.pool.put(s)
		} else {
			c.pool.discard(s)
		}
		c.inflight.RUnlock()
	}()
	return err, true
}

func unavailable(cause error) error {
	if cause == nil {
		return ErrUnavailable
	}
	if errors.Is(cause, ErrUnavailable) {
		return cause
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}

// do runs fn with a session and mends what the token lets go of between
// calls, retrying the call after each repair:
//   - a lost login (CKR_USER_NOT_LOGGED_IN, or a private key's handle turning
//     invalid because logging out hid it) → log in again;
//   - a stale handle → forget the cached handles, find them again;
//   - a dead session → close it and take another; a second dead session
//     means sessions held elsewhere (crypto11's) are dead too → rebuild;
//   - a lost token → rebuild the connection, failing fast with ErrUnavailable
//     until it is back.
//
// A call that still fails after the repairs is ErrUnavailable, never a
// decryption error.
func (h *HSM) do(ctx context.Context, fn func(c *conn, s pkcs11.SessionHandle) error) error {
	return h.run(ctx, lockShared, fn)
}

// doWrite is do for calls that create or destroy token objects.
func (h *HSM) doWrite(ctx context.Context, fn func(c *conn, s pkcs11.SessionHandle) error) error {
	return h.run(ctx, lockExclusive, fn)
}

// doUnlocked is do for calls that work on session objects and take the
// write lock (c.writing) only for the moment they write token objects.
func (h *HSM) doUnlocked(ctx context.Context, fn func(c *conn, s pkcs11.SessionHandle) error) error {
	return h.run(ctx, lockNone, fn)
}

func (h *HSM) run(ctx context.Context, mode lockMode, fn func(c *conn, s pkcs11.SessionHandle) error) error {
	const attempts = 4 // enough for: dead session, lost login, dead crypto11 sessions → rebuild
	var err error
	for attempt := 0; attempt < attempts; attempt++ {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		var c *conn
		if c, err = h.acquire(); err != nil {
			return err
		}
		var s pkcs11.SessionHandle
		if s, err = c.pool.get(ctx); err != nil {
			c.inflight.RUnlock()
			if classify(err) == failDevice {
				h.markDown(c, err)
				return unavailable(err)
			}
			return err
		}
		var abandoned bool
		if err, abandoned = h.call(ctx, c, s, mode, fn); abandoned {
			return err
		}
		kind := classify(err)
		switch kind {
		case failNone:
			c.pool.put(s)
			c.inflight.RUnlock()
			return err
		case failNotLoggedIn, failHandle:
			lerr := c.relogin(s)
			if kind == failHandle {
				c.keys.reset()
			}
			if classify(lerr) == failSession {
				c.pool.discard(s) // the session died with the login; the next attempt takes another
				c.inflight.RUnlock()
				break
			}
			c.pool.put(s)
			c.inflight.RUnlock()
			if lerr != nil {
				return unavailable(lerr)
			}
		case failSession:
			c.pool.discard(s)
			c.inflight.RUnlock()
			if attempt > 0 {
				h.markDown(c, err)
			}
		case failDevice:
			c.pool.discard(s)
			c.inflight.RUnlock()
			h.markDown(c, err)
			return unavailable(err)
		}
		h.log.Debug("hsm: retrying after repair", "attempt", attempt+1, "err", err)
	}
	return unavailable(err)
}
