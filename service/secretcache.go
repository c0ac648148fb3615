package service

import (
	"context"
	"sync"
	"time"
)

// secretCache keeps access-key secrets unsealed for a short time, so that a
// signed request costs no HSM call besides the operation it asks for, and a
// flood of forged signatures for a known AccessKeyId costs at most one
// unseal per TTL. What it holds for a credential is dropped at once when the
// credential is disabled or deleted through this process; changes made
// elsewhere (another replica, the CLI on a stopped server) take effect
// within one TTL. Only credentials that exist are kept, so its size is
// bounded by the number of access keys.
type secretCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*secretEntry
}

type secretEntry struct {
	ready   chan struct{} // closed once secret/err are set: later callers wait instead of unsealing again
	secret  []byte
	err     error // a credential that is disabled (kept); other errors are not kept
	expires time.Time
}

func newSecretCache(ttl time.Duration, now func() time.Time) *secretCache {
	return &secretCache{ttl: ttl, now: now, entries: map[string]*secretEntry{}}
}

// get returns a copy of the secret of id (the caller wipes it), calling
// load once per TTL however many callers ask at once.
func (c *secretCache) get(ctx context.Context, id string, load func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	if ok && e.expires.IsZero() {
		c.mu.Unlock()
		select { // a load in flight
		case <-e.ready:
		case <-ctx.Done():
			return nil, wrapErr(KindUnavailable, ctx.Err(), "waiting for an access key")
		}
	} else if ok && c.now().Before(e.expires) {
		c.mu.Unlock()
	} else {
		if ok {
			clear(e.secret)
		}
		e = &secretEntry{ready: make(chan struct{})}
		c.entries[id] = e
		c.mu.Unlock()
		secret, err := load()
		c.mu.Lock()
		e.secret, e.err = secret, err
		switch {
		case err == nil || KindOf(err) == KindAccessKeyDisabled:
			e.expires = c.now().Add(c.ttl)
		case c.entries[id] == e:
			delete(c.entries, id) // unknown ids and failures are not kept
		}
		close(e.ready)
		c.mu.Unlock()
	}
	c.mu.Lock() // drop may be wiping the secret
	defer c.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	return append([]byte(nil), e.secret...), nil
}

// drop forgets id at once.
func (c *secretCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		clear(e.secret) // nil while a load is in flight; that load's result is no longer in the map
		delete(c.entries, id)
	}
}
