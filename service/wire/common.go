package wire

import (
	"log/slog"
	"time"
)

// Common is what every dialect's Handler is wired with besides the service:
// both dialects embed it in their Config, so that one limiter and one
// failure guard count a caller across both, and the defaults are one.
type Common struct {
	Limiter *Limiter   // requests per credential
	Guard   *AuthGuard // failed authentications per client address
	Now     func() time.Time
	Logger  *slog.Logger
	// OnAccess, if set, is told of every answered request (metrics).
	OnAccess func(Access)
	// Audit, if set, records every request before it is answered.
	Audit Auditor
	// Proxies may name the client in X-Forwarded-For or Forwarded.
	Proxies Proxies
}

// Defaults fills in what is unset: the clock, 100 requests a second per
// credential, 5 failed authentications a second per address (bursts of 20),
// and the default logger.
func (c *Common) Defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Limiter == nil {
		c.Limiter = NewLimiter(100, c.Now)
	}
	if c.Guard == nil {
		c.Guard = NewAuthGuard(5, 20, c.Now)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
