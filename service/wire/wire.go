// Package wire holds what every API dialect needs around the service:
// replay protection, per-credential rate limits, limits on failed
// authentications, and request ids. It knows no dialect.
package wire

import (
	"sync"
	"time"
)

// Limiter is a token bucket per credential: rate requests a second, with
// bursts of up to one second's worth (or burst, with NewBurstLimiter).
type Limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

// maxBuckets bounds a limiter's memory: past it, buckets that have refilled
// (whose keys have been quiet) are forgotten.
const maxBuckets = 100_000

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows rate requests a second per credential; rate ≤ 0 turns
// limiting off.
func NewLimiter(rate float64, now func() time.Time) *Limiter {
	return NewBurstLimiter(rate, rate, now)
}

// NewBurstLimiter allows rate events a second per key, in bursts of up to
// burst; rate ≤ 0 turns limiting off.
func NewBurstLimiter(rate, burst float64, now func() time.Time) *Limiter {
	return &Limiter{rate: rate, burst: max(burst, 1), now: now, buckets: map[string]*bucket{}}
}

// Rate is the limiter's rate a second (0: no limit).
func (l *Limiter) Rate() float64 { return max(l.rate, 0) }

// Allow takes one token for the key, or reports that there is none.
func (l *Limiter) Allow(key string) bool { return l.take(key, true) }

// Peek reports whether the key has a token left, without taking it.
func (l *Limiter) Peek(key string) bool { return l.take(key, false) }

func (l *Limiter) take(key string, consume bool) bool {
	if l == nil || l.rate <= 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if !consume {
			return true
		}
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	if consume {
		b.tokens--
	}
	return true
}

// sweep forgets buckets that are full again: a new bucket starts full, so
// forgetting them changes nothing.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
