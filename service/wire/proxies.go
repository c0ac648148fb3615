package wire

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proxies are the addresses of the load balancers and proxies in front of
// Keyport (--trusted-proxies). From them only, X-Forwarded-For or
// Forwarded names the client, so that the failed-authentication guard, the
// rate limits and the audit log see the client's address, not the proxy's;
// from anyone else those headers are ignored (a client could name any
// address it likes).
type Proxies []netip.Prefix

// ParseProxies reads a comma-separated list of CIDRs or addresses.
func ParseProxies(s string) (Proxies, error) {
	var out Proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the address a request came from: the peer's, or, when the peer
// is a trusted proxy, the nearest address in its forwarding headers that
// is not itself a trusted proxy (walking from the right, as each proxy
// appends the address it saw). header gives a request header's values
// (http.Header.Values): this package speaks no HTTP of its own.
func (p Proxies) Client(remoteAddr string, header func(name string) []string) string {
	peer := ClientAddress(remoteAddr)
	a, err := netip.ParseAddr(peer)
	if len(p) == 0 || err != nil || !p.trusted(a) {
		return peer
	}
	hops := forwardedFor(header)
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer // a hop that is no address: trust nothing before it
		}
		if !p.trusted(h) {
			return h.Unmap().String()
		}
	}
	return peer
}

// forwardedFor lists the addresses of Forwarded's for= parameters, or else
// of X-Forwarded-For, in order.
func forwardedFor(header func(name string) []string) []string {
	var out []string
	for _, line := range header("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				v = strings.Trim(v, `"`)
				if strings.HasPrefix(v, "[") { // "[2001:db8::1]:4711"
					v, _, _ = strings.Cut(v[1:], "]")
				} else if host, _, found := strings.Cut(v, ":"); found && strings.Count(v, ":") == 1 {
					v = host
				}
				out = append(out, v)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, line := range header("X-Forwarded-For") {
		for _, f := range strings.Split(line, ",") {
			out = append(out, strings.TrimSpace(f))
		}
	}
	return out
}
