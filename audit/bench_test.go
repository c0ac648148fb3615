package audit

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service/wire"
)

// BenchmarkChainCost: 16 writers' lines a second to the chained log, with
// checkpoints every 1,000 lines, against the same log unchained, in turns
// in one run; the ratio is what the chain costs (target ≥ 0.9).
func BenchmarkChainCost(b *testing.B) {
	rate := func(unchained bool) float64 {
		l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
		if err != nil {
			b.Fatal(err)
		}
		l.unchained = unchained
		if !unchained {
			if err := l.Checkpoints(testMACer(), 1000, time.Second); err != nil {
				b.Fatal(err)
			}
		}
		defer l.Close()
		var wg sync.WaitGroup
		var mu sync.Mutex
		n := 0
		start := time.Now()
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; time.Since(start) < time.Second; i++ {
					_ = l.Record(context.Background(), wire.Access{Dialect: "aliyun", Action: "Encrypt", RequestID: fmt.Sprint(w, "-", i), Code: "OK",
						Keys: []wire.KeyUse{{KeyID: "1234abcd-12ab-34cd-56ef-1234567890ab", Version: "v"}}})
					mu.Lock()
					n++
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		return float64(n) / time.Since(start).Seconds()
	}
	var chained, plain float64
	const rounds = 5 // in turns: the machine's speed drifts
	for i := 0; i < rounds; i++ {
		plain += rate(true)
		chained += rate(false)
	}
	b.ReportMetric(chained/plain, "chained/plain")
	b.ReportMetric(chained/rounds, "chained_lines/s")
	if chained/plain < 0.9 {
		b.Fatalf("the chained log writes %.2f of the plain one's lines (target ≥ 0.9)", chained/plain)
	}
}
