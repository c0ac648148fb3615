package service

import (
	"testing"
	"time"
)

// An empty pool is unready at start and when its refills stop, but not
// while demand claims every pair as soon as it is made.
func TestPoolProducing(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := &Service{opt: Options{Now: func() time.Time { return now }}}
	p := newPool(s, map[WrappingKeySpec]poolBounds{WrappingRSA2048: {1, 1}}, 1)
	if p.producing(WrappingRSA2048) {
		t.Fatal("producing before any pair was made")
	}
	p.madeAt[WrappingRSA2048].Store(now.UnixNano())
	now = now.Add(producingWithin - time.Second)
	if !p.producing(WrappingRSA2048) {
		t.Fatal("not producing just after a pair was made")
	}
	now = now.Add(2 * time.Second)
	if p.producing(WrappingRSA2048) {
		t.Fatal("still producing long after the last pair")
	}
}
