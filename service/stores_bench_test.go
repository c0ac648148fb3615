package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/pgserver"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/softhsm"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
	"github.com/keyport-kms/keyport/store/postgres"
)

// rate runs op from clients goroutines for d and returns calls a second.
func rate(b *testing.B, clients int, d time.Duration, op func(ctx context.Context) error) float64 {
	ctx := context.Background()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				if err := op(ctx); err != nil {
					b.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// BenchmarkStores: the service on the embedded bbolt store and on
// PostgreSQL (a real server on this machine, reached by its Unix socket as
// a local database is, and over TCP for comparison), one token, the same run:
// CreateKey and Encrypt+Decrypt calls a second from 8 clients, with the
// pool refiller and the collector running. PostgreSQL must keep at least
// half of bbolt's rate.
func BenchmarkStores(b *testing.B) {
	tok := softhsm.New(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hsm.Open(context.Background(), hsm.Config{Module: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	embedded, err := bolt.Create(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer embedded.Close()
	url := pgserver.Database(b)
	pg, err := postgres.Open(context.Background(), url, true)
	if err != nil {
		b.Fatal(err)
	}
	defer pg.Close()
	pgTCP, err := postgres.Open(context.Background(), pgserver.OverTCP(url), true)
	if err != nil {
		b.Fatal(err)
	}
	defer pgTCP.Close()

	const clients = 8
	const d = 3 * time.Second
	type figures struct{ create, pairs float64 }
	measure := func(st store.Store) figures {
		svc, err := service.New(context.Background(), service.Options{Token: h, Store: st, PoolRSA: 2, PoolSM2: 2, PoolRSALarge: -1, CollectEvery: time.Second, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		defer svc.Close()
		var f figures
		f.create = rate(b, clients, d, func(ctx context.Context) error {
			_, err := svc.CreateKey(ctx, service.CreateKeyRequest{})
			return err
		})
		md, err := svc.CreateKey(context.Background(), service.CreateKeyRequest{})
		if err != nil {
			b.Fatal(err)
		}
		f.pairs = rate(b, clients, d, func(ctx context.Context) error {
			ct, err := svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("benchmark")})
			if err != nil {
				return err
			}
			_, err = svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: ct.CiphertextBlob})
			return err
		})
		return f
	}
	b.ResetTimer()
	onBolt := measure(embedded)
	onPG := measure(pg)
	onTCP := measure(pgTCP)
	b.StopTimer()
	fmt.Printf("\n| in process, %d clients (this run) | bbolt | PostgreSQL, Unix socket | ratio | target | PostgreSQL, TCP loopback | ratio |\n|---|---|---|---|---|---|---|\n", clients)
	fmt.Printf("| CreateKey/s | %.0f | %.0f | %.2f | ≥ 0.50 | %.0f | %.2f |\n", onBolt.create, onPG.create, onPG.create/onBolt.create, onTCP.create, onTCP.create/onBolt.create)
	fmt.Printf("| Encrypt+Decrypt pairs/s | %.0f | %.0f | %.2f | ≥ 0.50 | %.0f | %.2f |\n", onBolt.pairs, onPG.pairs, onPG.pairs/onBolt.pairs, onTCP.pairs, onTCP.pairs/onBolt.pairs)
	b.ReportMetric(onPG.create/onBolt.create, "create-pg/bolt")
	b.ReportMetric(onPG.pairs/onBolt.pairs, "pairs-pg/bolt")
	if onPG.create < onBolt.create/2 || onPG.pairs < onBolt.pairs/2 {
		b.Fatal("PostgreSQL below half of bbolt (see the table)")
	}
}
