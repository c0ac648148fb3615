package test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/pgserver"
)

// loadRate is op's calls a second, sent by this process to every endpoint
// at once with clients/len(addrs) clients each: one load generator, as a
// load balancer's clients are one crowd. For OpEncrypt it is Encrypt+Decrypt
// pairs a second, from an Encrypt run and a Decrypt run (a pair costs the
// time of one of each).
func loadRate(b *testing.B, ak, sk string, addrs []string, clients int, op client.Op, d time.Duration) float64 {
	rate := func(op client.Op) float64 {
		var mu sync.Mutex
		total := 0.0
		var wg sync.WaitGroup
		for _, addr := range addrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := must(client.New(client.Config{Endpoint: "http://" + addr, Dialect: client.Aliyun, AccessKeyID: ak, Secret: sk}))
				rep, err := cl.Run(context.Background(), client.Load{Op: op, Concurrency: clients / len(addrs), Duration: d, Warmup: d / 5})
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
	if op != client.OpEncrypt {
		return rate(op)
	}
	enc, dec := rate(client.OpEncrypt), rate(client.OpDecrypt)
	return 1 / (1/enc + 1/dec)
}

// ratioStats is the geometric mean of per-round ratios and its 95 %
// confidence interval (two standard errors of the mean log-ratio).
func ratioStats(logs []float64) (mean, lo, hi float64) {
	for _, x := range logs {
		mean += x
	}
	mean /= float64(len(logs))
	var v float64
	for _, x := range logs {
		v += (x - mean) * (x - mean)
	}
	se := math.Sqrt(v/float64(len(logs)-1)) / math.Sqrt(float64(len(logs)))
	return math.Exp(mean), math.Exp(mean - 2*se), math.Exp(mean + 2*se)
}

// BenchmarkReplicas: Encrypt+Decrypt over HTTP against one replica of a
// deployment, then against two at once (a load balancer's view), with the
// same 16 clients, on two cores shared with PostgreSQL and the load
// generator. Two layouts of the pair: each replica on a core of its own (as
// systemd's CPUAffinity= or a Kubernetes CPU manager runs them; the Go
// runtime then sizes itself to one core), and both free on both cores. The
// one replica may use both cores.
//
// A VM's speed drifts by more than the difference measured, so the layouts
// take turns in short rounds (the order reversed every other round) and the
// figure is the geometric mean of each round's ratio to the one replica.
// GET /healthz, the same way, is what splitting any Go HTTP server into two
// processes costs here: the ceiling of the Keyport figure. The target: the
// pinned pair serves at least what one replica does.
func BenchmarkReplicas(b *testing.B) {
	defer catch(b)
	if runtime.NumCPU() < 2 {
		b.Fatalf("BenchmarkReplicas needs two CPUs, this machine has %d", runtime.NumCPU())
	}
	// Warn-level logs: the access log of every request would be copied
	// through this process's pipes, on the same two cores.
	flags := []string{"--rate-limit", "0", "--log-level", "warn"}
	rs := newReplicaSet(b, pgserver.Database(b))
	all := "0,1" // the two cores measured (PostgreSQL and this process are not pinned)
	one, free := rs.add(b, all, flags...), rs.add(b, all, flags...)
	pin0, pin1 := rs.add(b, "0", flags...), rs.add(b, "1", flags...)
	rs.ak, rs.sk = newAccessKey(b, rs.env)

	const clients, rounds, d = 16, 8, 1500 * time.Millisecond
	layouts := []struct {
		name  string
		addrs []string
	}{
		{"one replica", []string{one.addr}},
		{"two replicas, a core each", []string{pin0.addr, pin1.addr}},
		{"two replicas, both free on both cores", []string{one.addr, free.addr}},
	}
	ops := []struct {
		name string
		op   client.Op
	}{{"Encrypt+Decrypt pairs/s", client.OpEncrypt}, {"GET /healthz/s", client.OpHealthz}}
	rates := make([][]float64, len(ops)*len(layouts)) // [op*len(layouts)+layout][round]
	for r := 0; r < rounds; r++ {
		for j := range layouts {
			if r%2 == 1 {
				j = len(layouts) - 1 - j
			}
			for i, o := range ops {
				rates[i*len(layouts)+j] = append(rates[i*len(layouts)+j], loadRate(b, rs.ak, rs.sk, layouts[j].addrs, clients, o.op, d))
			}
		}
	}
	fmt.Printf("\n| over HTTP, %d clients, two cores, %d interleaved rounds (this run) | mean rate | ratio to one replica (geometric mean) | 95%% CI | target |\n|---|---|---|---|---|\n", clients, rounds)
	var pinned float64
	for i, o := range ops {
		base := rates[i*len(layouts)]
		for j, l := range layouts {
			got := rates[i*len(layouts)+j]
			var logs []float64
			mean := 0.0
			for r := range got {
				logs = append(logs, math.Log(got[r]/base[r]))
				mean += got[r] / float64(len(got))
			}
			ratio, lo, hi := ratioStats(logs)
			target := ""
			if j == 1 && o.op == client.OpEncrypt {
				pinned, target = ratio, "≥ 1.00"
				b.ReportMetric(ratio, "pinned-two/one")
			}
			fmt.Printf("| %s: %s | %.0f | %.3f | %.3f–%.3f | %s |\n", o.name, l.name, mean, ratio, lo, hi, target)
		}
	}
	if pinned < 1 {
		b.Fatalf("two replicas, a core each, served %.3f × one replica's Encrypt+Decrypt", pinned)
	}
}
