package wire

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// ReplayLog is where a dialect records what each accepted signed request
// proved unique: Replays in this process's memory (one process on its
// store), or SharedReplays in the store (replicas, so that a nonce used on
// one is refused on all).
type ReplayLog interface {
	// Check records value for credential if fresh and says what it found;
	// an error means the log could not be consulted (refuse the request).
	Check(ctx context.Context, credential, value string) (Verdict, error)
}

// Replays remembers, per credential, what each accepted signed request
// proved unique — its signature nonce — for as long as its timestamp is accepted, so that a request
// cannot be replayed within the window. Its memory is bounded: entries are
// fixed-size hashes however long the client's value, callers cap what
// they record by rate first, and each credential keeps at most a set
// number of entries (a credential whose table is full is refused until
// entries expire, as accepting could allow a replay).
type Replays struct {
	window time.Duration
	max    int // entries per credential
	now    func() time.Time

	mu    sync.Mutex
	creds map[string]*replayLog
}

// replayLog is one credential's entries, in a map for lookup and in a ring
// in insertion order for expiry: every entry lives for the same span, so
// the oldest inserted expires first.
type replayLog struct {
	seen  map[[16]byte]int64 // until when each value is remembered, in Unix nanoseconds: no pointers, so the GC never scans the table
	ring  [][16]byte
	head  int // index of the oldest entry in ring
	count int
}

// Verdict says what Record found.
type Verdict int

const (
	Fresh  Verdict = iota // not seen in the window: recorded
	Repeat                // seen in the window: a replay
	Full                  // the credential's table is full: refuse
)

// replayEntrySize is what one entry costs, roughly: its key and value in
// the map with the map's overhead, and its ring slot.
const replayEntrySize = 144 // measured: about 110 bytes (TestReplaysMemoryBound)

// NewReplays remembers values for twice window (a timestamp is accepted up
// to window either side of now) and at most max per credential.
func NewReplays(window time.Duration, limit int, now func() time.Time) *Replays {
	return &Replays{window: window, max: limit, now: now, creds: map[string]*replayLog{}}
}

// MaxFor is the per-credential bound that never refuses a client keeping
// to rate requests a second: every request of a window and a half.
func MaxFor(rate float64, window time.Duration) int {
	if rate <= 0 {
		return 1_000_000
	}
	return int(rate*2*window.Seconds()) + int(rate) + 1
}

// Bytes bounds the memory the table may take per credential.
func (r *Replays) Bytes() int { return r.max * replayEntrySize }

func digest(s string) [16]byte {
	sum := sha256.Sum256([]byte(s))
	return [16]byte(sum[:16])
}

// Check is Record; memory never fails.
func (r *Replays) Check(_ context.Context, credential, value string) (Verdict, error) {
	return r.Record(credential, value), nil
}

// Record looks value up for credential and records it if fresh.
func (r *Replays) Record(credential, value string) Verdict {
	now := r.now()
	key := digest(value)
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.creds[credential]
	if !ok {
		l = &replayLog{seen: map[[16]byte]int64{}}
		r.creds[credential] = l
	}
	l.expire(now)
	if _, ok := l.seen[key]; ok {
		return Repeat
	}
	if l.count >= r.max {
		return Full
	}
	l.seen[key] = now.Add(2 * r.window).UnixNano()
	l.push(key, r.max)
	return Fresh
}

func (l *replayLog) push(key [16]byte, limit int) {
	if l.count == len(l.ring) { // grow the ring up to limit, keeping order
		n := min(limit, max(16, 2*len(l.ring)))
		ring := make([][16]byte, n)
		for i := 0; i < l.count; i++ {
			ring[i] = l.ring[(l.head+i)%len(l.ring)]
		}
		l.ring, l.head = ring, 0
	}
	l.ring[(l.head+l.count)%len(l.ring)] = key
	l.count++
}

func (l *replayLog) expire(now time.Time) {
	for l.count > 0 {
		key := l.ring[l.head]
		if until, ok := l.seen[key]; ok && now.UnixNano() < until {
			return
		}
		delete(l.seen, key)
		l.head = (l.head + 1) % len(l.ring)
		l.count--
	}
	if len(l.ring) > 64 { // a quiet credential gives its memory back
		l.ring, l.head = nil, 0
		clear(l.seen)
		l.seen = map[[16]byte]int64{}
	}
}

// Len is the number of entries held for credential.
func (r *Replays) Len(credential string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.creds[credential]; ok {
		return l.count
	}
	return 0
}

// RecordUse records that credential used the value with this digest,
// remembered until until, unless a live use of it is recorded at now; it
// says whether it recorded it. A store replicas share provides it
// (store.Uses), so that this package needs no store.
type RecordUse func(ctx context.Context, credential string, digest [16]byte, until, now time.Time) (fresh bool, err error)

// SharedReplays keeps uses in a store replicas share. The store's rows are
// bounded by the rate limit (each replica records at most its rate per
// credential) and deleted by the collector once past the window.
type SharedReplays struct {
	record RecordUse
	window time.Duration
	now    func() time.Time
}

// NewSharedReplays remembers values through record for twice window.
func NewSharedReplays(record RecordUse, window time.Duration, now func() time.Time) *SharedReplays {
	return &SharedReplays{record: record, window: window, now: now}
}

func (r *SharedReplays) Check(ctx context.Context, credential, value string) (Verdict, error) {
	now := r.now()
	fresh, err := r.record(ctx, credential, digest(value), now.Add(2*r.window), now)
	switch {
	case err != nil:
		return 0, err
	case fresh:
		return Fresh, nil
	}
	return Repeat, nil
}
