package test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/pgserver"
)

// pairRate is Encrypt+Decrypt pairs a second, from an encrypt run and a
// decrypt run: one pair costs the time of one of each.
func pairRate(b *testing.B, env []string, addr string, concurrency int) float64 {
	args := []string{"--concurrency", fmt.Sprint(concurrency), "--duration", "5s", "--warmup", "1s"}
	enc := kpBench(b, env, addr, append([]string{"--op", "encrypt"}, args...)...).Op(client.OpEncrypt).PerSecond
	dec := kpBench(b, env, addr, append([]string{"--op", "decrypt"}, args...)...).Op(client.OpDecrypt).PerSecond
	return 1 / (1/enc + 1/dec)
}

// BenchmarkReplicas: Encrypt+Decrypt over HTTP against one replica, then
// against two replicas of the same deployment at once (a load balancer's
// view), with the same clients in all; on a machine of two cores the two
// replicas together must serve at least what one does.
func BenchmarkReplicas(b *testing.B) {
	defer catch(b)
	rs := startReplicas(b, pgserver.Database(b), 2, "--rate-limit", "0")
	env := []string{"KEYPORT_ACCESS_KEY_ID=" + rs.ak, "KEYPORT_ACCESS_KEY_SECRET=" + rs.sk}
	time.Sleep(3 * time.Second) // pools fill
	const clients = 16
	one := pairRate(b, env, rs.nodes[0].addr, clients)
	var mu sync.Mutex
	two := 0.0
	var wg sync.WaitGroup
	for _, s := range rs.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := pairRate(b, env, s.addr, clients/2)
			mu.Lock()
			two += r
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("\n| Encrypt+Decrypt pairs/s over HTTP, %d clients (this run) | pairs/s | ratio to one replica | target |\n|---|---|---|---|\n", clients)
	fmt.Printf("| one replica | %.0f | 1 | |\n| two replicas, one deployment | %.0f | %.2f | ≥ 1.00 |\n", one, two, two/one)
	b.ReportMetric(two/one, "two/one")
	if two < one {
		b.Fatalf("two replicas served %.0f pairs/s, one %.0f", two, one)
	}
}
