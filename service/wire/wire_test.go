package wire

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestReplays(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	n := NewReplays(15*time.Minute, 10_000, c.now)
	if n.Record("ak", "n1") != Fresh || n.Record("ak", "n1") != Repeat {
		t.Fatal("a nonce must be fresh once")
	}
	if n.Record("other", "n1") != Fresh {
		t.Fatal("nonces are per credential")
	}
	c.t = c.t.Add(29 * time.Minute)
	if n.Record("ak", "n1") == Fresh {
		t.Fatal("a nonce must be remembered for the whole window on both sides")
	}
	c.t = c.t.Add(2 * time.Minute)
	if n.Record("ak", "n1") != Fresh {
		t.Fatal("a nonce past both windows may come again")
	}
	for i := 0; i < 5000; i++ {
		n.Record("ak", fmt.Sprint(i))
	}
	c.t = c.t.Add(time.Hour)
	n.Record("ak", "late")
	if got := n.Len("ak"); got != 1 {
		t.Fatalf("expired entries are not dropped: %d held", got)
	}
}

// The table's memory is bounded per credential whatever the clients send:
// long values cost what short ones do, and past the bound a credential is
// refused (Full) until entries expire.
func TestReplaysMemoryBound(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	const limit = 50_000
	n := NewReplays(15*time.Minute, limit, c.now)
	long := strings.Repeat("x", 60<<10)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	full := 0
	for i := 0; i < 2*limit; i++ {
		switch n.Record("ak", fmt.Sprint(i, long[:64+i%1024])) {
		case Full:
			full++
		case Fresh:
		default:
			t.Fatal("a new value was not fresh")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d entries, %d refused as full, heap +%d bytes (bound %d)", n.Len("ak"), full, grown, n.Bytes())
	if n.Len("ak") != limit || full != limit {
		t.Fatalf("held %d, refused %d; want %d each", n.Len("ak"), full, limit)
	}
	if grown > 2*int64(n.Bytes()) {
		t.Fatalf("heap grew %d bytes for %d entries, over twice the documented %d", grown, limit, n.Bytes())
	}
	c.t = c.t.Add(31 * time.Minute)
	if n.Record("ak", "again") != Fresh {
		t.Fatal("a full credential recovers when its entries expire")
	}
	if MaxFor(100, 15*time.Minute) < 100*30*60 {
		t.Fatal("MaxFor would refuse a client within its rate")
	}
}

func TestAuthGuard(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	g := NewAuthGuard(1, 5, c.now)
	for i := 0; i < 5; i++ {
		if g.Blocked("10.0.0.1", "AK1") {
			t.Fatalf("blocked after %d failures, burst 5", i)
		}
		g.Failed("10.0.0.1", "AK1")
	}
	if !g.Blocked("10.0.0.1", "AK1") || !g.Blocked("10.0.0.1", "AK2") {
		t.Fatal("an address past its failures is not blocked")
	}
	if g.Blocked("10.0.0.2", "AK1") {
		t.Fatal("another address is blocked for one address's failures")
	}
	c.t = c.t.Add(2 * time.Second)
	if g.Blocked("10.0.0.1", "AK1") {
		t.Fatal("the budget does not refill")
	}
	var off *AuthGuard
	off.Failed("a", "b")
	if off.Blocked("a", "b") || NewAuthGuard(0, 5, c.now).Blocked("a", "b") {
		t.Fatal("a nil or zero-rate guard blocks")
	}
}

func TestLimiter(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := NewLimiter(10, c.now)
	allowed := 0
	for i := 0; i < 25; i++ {
		if l.Allow("ak") {
			allowed++
		}
	}
	if allowed != 10 {
		t.Fatalf("burst allowed %d, want 10", allowed)
	}
	if !l.Allow("other") {
		t.Fatal("limits are per credential")
	}
	c.t = c.t.Add(500 * time.Millisecond)
	allowed = 0
	for i := 0; i < 25; i++ {
		if l.Allow("ak") {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("after 0.5 s allowed %d, want 5", allowed)
	}
	if !NewLimiter(0, c.now).Allow("ak") {
		t.Fatal("rate 0 means no limit")
	}
}

func TestProxies(t *testing.T) {
	p, err := ParseProxies("10.0.0.0/8, 192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	req := func(peer string, h map[string]string) *http.Request {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = peer
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return r
	}
	for _, c := range []struct {
		peer string
		h    map[string]string
		want string
	}{
		{"198.51.100.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "198.51.100.1"}, // not a proxy: ignored
		{"10.1.2.3:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9"},
		{"10.1.2.3:5000", map[string]string{"X-Forwarded-For": "1.1.1.1, 203.0.113.9, 10.9.9.9"}, "203.0.113.9"}, // the nearest untrusted hop
		{"192.0.2.7:5000", map[string]string{"Forwarded": `for="[2001:db8::1]:4711";proto=https`}, "2001:db8::1"},
		{"192.0.2.7:5000", map[string]string{"Forwarded": "for=203.0.113.5:80"}, "203.0.113.5"},
		{"10.1.2.3:5000", map[string]string{"X-Forwarded-For": "not-an-ip"}, "10.1.2.3"},
		{"10.1.2.3:5000", nil, "10.1.2.3"},
	} {
		if got := p.Client(c.peer, req(c.peer, c.h).Header.Values); got != c.want {
			t.Errorf("%s %v: %s, want %s", c.peer, c.h, got, c.want)
		}
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Fatal("a bad CIDR was accepted")
	}
}

func TestCut(t *testing.T) {
	if got := Cut("Encrypt\x00<é>"+strings.Repeat("x", 100), MaxAction, ActionChar); len(got) != MaxAction || !strings.HasPrefix(got, "Encrypt?????") {
		t.Fatalf("Cut: %q", got)
	}
	if !ValidAccessKeyID("KPAK0123") || ValidAccessKeyID("") || ValidAccessKeyID(strings.Repeat("a", 129)) || ValidAccessKeyID("a b") {
		t.Fatal("ValidAccessKeyID")
	}
}
