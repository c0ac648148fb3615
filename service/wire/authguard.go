package wire

import (
	"net"
	"time"
)

// AuthGuard limits failed authentications per client address and per
// AccessKeyId from one address. A key over its budget is refused before
// anything is looked up or computed for it, so a flood of forged
// signatures costs almost nothing; the budget is on failures only, so
// signed traffic is never slowed, and it is per address, so that knowing an
// AccessKeyId (they travel in query strings) does not let a stranger lock
// its owner out.
type AuthGuard struct {
	byAddr, byKey *Limiter
}

// NewAuthGuard allows rate failed authentications a second per address and
// per AccessKeyId from one address, in bursts of burst; rate ≤ 0 turns it off.
func NewAuthGuard(rate float64, burst int, now func() time.Time) *AuthGuard {
	return &AuthGuard{byAddr: NewBurstLimiter(rate, float64(burst), now), byKey: NewBurstLimiter(rate, float64(burst), now)}
}

func pair(addr, accessKeyID string) string { return addr + "\x00" + accessKeyID }

// Blocked reports whether requests from addr for accessKeyID are refused
// for now because of the failures before them.
func (g *AuthGuard) Blocked(addr, accessKeyID string) bool {
	return g != nil && (!g.byAddr.Peek(addr) || !g.byKey.Peek(pair(addr, accessKeyID)))
}

// BlockedAddress reports whether every request from addr is refused for
// now: it is checked before a request is read at all.
func (g *AuthGuard) BlockedAddress(addr string) bool {
	return g != nil && !g.byAddr.Peek(addr)
}

// Failed counts one failed authentication.
func (g *AuthGuard) Failed(addr, accessKeyID string) {
	if g != nil {
		g.byAddr.Allow(addr)
		g.byKey.Allow(pair(addr, accessKeyID))
	}
}

// ClientAddress is the address a request came from (http.Request's
// RemoteAddr), without its port. It is the peer's: behind a proxy or load
// balancer every client shares the proxy's address, so set the failure
// limit with that in mind.
func ClientAddress(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
