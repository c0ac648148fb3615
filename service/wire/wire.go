// Package wire holds what every API dialect needs around the service:
// replay protection for nonces, a per-credential rate limit, and request ids.
// It knows no dialect.
package wire

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"
)

// NewUUID returns a random (version 4) UUID in lower case, the form key ids take.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// NewRequestID returns a random request id, an upper-case UUID as the clouds send.
func NewRequestID() string { return strings.ToUpper(NewUUID()) }

// Nonces remembers signature nonces for one window, per credential, so a
// signed request cannot be replayed while its timestamp is still accepted.
type Nonces struct {
	window time.Duration
	now    func() time.Time

	mu      sync.Mutex
	seen    map[string]time.Time // credential \x00 nonce → forget after
	inserts int
}

// NewNonces remembers nonces for window (the accepted clock skew each side).
func NewNonces(window time.Duration, now func() time.Time) *Nonces {
	return &Nonces{window: window, now: now, seen: map[string]time.Time{}}
}

// Use records the nonce and reports whether it was fresh. Call it only
// after the signature verified, so strangers cannot fill the table.
func (n *Nonces) Use(credential, nonce string) bool {
	now := n.now()
	key := credential + "\x00" + nonce
	n.mu.Lock()
	defer n.mu.Unlock()
	if until, ok := n.seen[key]; ok && now.Before(until) {
		return false
	}
	// A timestamp is accepted up to window either side of now, so a nonce
	// must be remembered for twice the window.
	n.seen[key] = now.Add(2 * n.window)
	if n.inserts++; n.inserts%1024 == 0 {
		for k, until := range n.seen {
			if !now.Before(until) {
				delete(n.seen, k)
			}
		}
	}
	return true
}

// Limiter is a token bucket per credential: rate requests a second, with
// bursts of up to one second's worth.
type Limiter struct {
	rate float64
	now  func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows rate requests a second per credential; rate ≤ 0 turns
// limiting off.
func NewLimiter(rate float64, now func() time.Time) *Limiter {
	return &Limiter{rate: rate, now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token for the credential, or reports that there is none.
func (l *Limiter) Allow(credential string) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[credential]
	if !ok {
		b = &bucket{tokens: l.rate, last: now}
		l.buckets[credential] = b
	}
	b.tokens = min(l.rate, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
