package test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/pgserver"
)

// pairRate is Encrypt+Decrypt pairs a second, from an encrypt run and a
// decrypt run (one pair costs the time of one of each), sent by this
// process to each endpoint at once with clients/len(addrs) clients each:
// one load generator, as a load balancer's clients are one crowd.
func pairRate(b *testing.B, ak, sk string, addrs []string, clients int) float64 {
	rate := func(op client.Op) float64 {
		var mu sync.Mutex
		total := 0.0
		var wg sync.WaitGroup
		for _, addr := range addrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := must(client.New(client.Config{Endpoint: "http://" + addr, Dialect: client.Aliyun, AccessKeyID: ak, Secret: sk}))
				rep, err := cl.Run(context.Background(), client.Load{Op: op, Concurrency: clients / len(addrs), Duration: 5 * time.Second, Warmup: time.Second})
				if err != nil || len(rep.Errors) > 0 {
					b.Errorf("%s on %s: %v %v", op, addr, err, rep.Errors)
					return
				}
				mu.Lock()
				total += rep.Op(op).PerSecond
				mu.Unlock()
			}()
		}
		wg.Wait()
		return total
	}
	enc, dec := rate(client.OpEncrypt), rate(client.OpDecrypt)
	return 1 / (1/enc + 1/dec)
}

// BenchmarkReplicas: Encrypt+Decrypt over HTTP against one replica, then
// against two replicas of the same deployment at once (a load balancer's
// view), with the same clients in all; on a machine of two cores the two
// replicas together must serve at least what one does.
func BenchmarkReplicas(b *testing.B) {
	defer catch(b)
	// Warn-level logs: the access log of every request would be copied
	// through this process's pipes, on the same two cores.
	rs := startReplicas(b, pgserver.Database(b), 2, "--rate-limit", "0", "--log-level", "warn")
	time.Sleep(3 * time.Second) // pools fill
	const clients = 16
	one := pairRate(b, rs.ak, rs.sk, []string{rs.nodes[0].addr}, clients)
	two := pairRate(b, rs.ak, rs.sk, []string{rs.nodes[0].addr, rs.nodes[1].addr}, clients)
	fmt.Printf("\n| Encrypt+Decrypt pairs/s over HTTP, %d clients (this run) | pairs/s | ratio to one replica | target |\n|---|---|---|---|\n", clients)
	fmt.Printf("| one replica | %.0f | 1 | |\n| two replicas, one deployment | %.0f | %.2f | ≥ 1.00 |\n", one, two, two/one)
	b.ReportMetric(two/one, "two/one")
	if two < one {
		b.Fatalf("two replicas served %.0f pairs/s, one %.0f", two, one)
	}
}
