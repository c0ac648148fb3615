package wire

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestNonces(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	n := NewNonces(15*time.Minute, c.now)
	if !n.Use("ak", "n1") || n.Use("ak", "n1") {
		t.Fatal("a nonce must be accepted once")
	}
	if !n.Use("other", "n1") {
		t.Fatal("nonces are per credential")
	}
	c.t = c.t.Add(29 * time.Minute)
	if n.Use("ak", "n1") {
		t.Fatal("a nonce must be remembered for the whole window on both sides")
	}
	c.t = c.t.Add(2 * time.Minute)
	if !n.Use("ak", "n1") {
		t.Fatal("a nonce past both windows may come again")
	}
	for i := 0; i < 5000; i++ {
		n.Use("ak", fmt.Sprint(i))
	}
	c.t = c.t.Add(time.Hour)
	for i := 0; i < 1024; i++ {
		n.Use("ak", fmt.Sprint("x", i))
	}
	if len(n.seen) > 2048 {
		t.Fatalf("expired nonces are not swept: %d remembered", len(n.seen))
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
