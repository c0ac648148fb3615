package wire

import (
	"maps"
	"sync"
	"time"
)

// Refusals sums the requests refused unread because their address (or
// their address and AccessKeyId) is over its failed-authentication budget:
// such a request can do nothing, so instead of a line each it is counted,
// and every interval one line per address says how many there were and
// with which codes. The addresses it tracks in one interval are bounded;
// past the bound, the rest are summed under OtherAddresses.
type Refusals struct {
	interval time.Duration
	emit     func(Access)

	mu      sync.Mutex
	byAddr  map[string]*refusalTally
	started bool // a flush is scheduled
}

type refusalTally struct {
	dialect string
	count   int
	codes   map[string]int
}

// maxRefusalAddrs bounds the addresses one interval tracks.
const maxRefusalAddrs = 1024

// OtherAddresses is the source of the summary line for addresses past the bound.
const OtherAddresses = "other-addresses"

// RefusalInterval is how often refusals are summed into lines.
const RefusalInterval = 10 * time.Second

// NewRefusals sums refusals into one Access per address every interval,
// handed to emit (with Refused set to the count and Codes to the codes).
func NewRefusals(interval time.Duration, emit func(Access)) *Refusals {
	return &Refusals{interval: interval, emit: emit, byAddr: map[string]*refusalTally{}}
}

// Add counts one refused request.
func (r *Refusals) Add(dialect, addr, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.byAddr[addr]
	if !ok {
		if len(r.byAddr) >= maxRefusalAddrs {
			addr = OtherAddresses
			t = r.byAddr[addr]
		}
		if t == nil {
			t = &refusalTally{dialect: dialect, codes: map[string]int{}}
			r.byAddr[addr] = t
		}
	}
	t.count++
	if len(t.codes) < 16 || t.codes[code] > 0 {
		t.codes[code]++
	}
	if !r.started {
		r.started = true
		time.AfterFunc(r.interval, r.Flush)
	}
}

// Flush emits the lines of the interval so far.
func (r *Refusals) Flush() {
	r.mu.Lock()
	tallies := r.byAddr
	r.byAddr, r.started = map[string]*refusalTally{}, false
	r.mu.Unlock()
	for addr, t := range tallies {
		r.emit(Access{Dialect: t.dialect, Action: "RefusedUnread", SourceIP: addr, Code: "Throttling", Refused: t.count, Codes: maps.Clone(t.codes)})
	}
}
