package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/pgserver"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/postgres"
	"github.com/keyport-kms/keyport/store/storetest"
)

func openPostgres(t *testing.T, url string, create bool) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, create)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The PostgreSQL store passes the store conformance suite, on a real server.
func TestPostgresConformance(t *testing.T) {
	urls := map[store.Store]string{}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store {
			url := pgserver.Database(t)
			s := openPostgres(t, url, true)
			urls[s] = url
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			s.Close()
			return openPostgres(t, urls[s], false)
		},
	})
}

// Replicas starting together on an empty database migrate it once and
// agree on one deployment id.
func TestPostgresConcurrentMigration(t *testing.T) {
	url := pgserver.Database(t)
	ctx := context.Background()
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url, true)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			ids[i], _ = s.Meta(ctx, store.MetaDeployment)
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("deployment ids after racing starts: %q", ids)
		}
	}
}

// Only serve creates a store; a schema newer than the binary and an
// unreachable server each end with one clear line.
func TestPostgresOpenErrors(t *testing.T) {
	ctx := context.Background()
	url := pgserver.Database(t)
	if _, err := postgres.Open(ctx, url, false); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("open without create on an empty database: %v", err)
	}
	s := openPostgres(t, url, true)
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE keyport_schema SET version = 99`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, url, true)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("newer schema: %v", err)
	}

	srv := pgserver.Own(t)
	dead := srv.URL("postgres")
	if err := srv.Stop("fast"); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, strings.Replace(dead, "postgres@", "postgres:hunter2@", 1), true)
	if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unreachable: %v", err)
	}
	t.Logf("unreachable: %v", err)
}

// Two processes' handles on one database exclude each other from a lease,
// and a holder that goes away (its connection closed) gives it up.
func TestPostgresLeaseAcrossHandles(t *testing.T) {
	url := pgserver.Database(t)
	ctx := context.Background()
	a, b := openPostgres(t, url, true), openPostgres(t, url, true)
	if _, ok, err := a.TryLease(ctx, "collect"); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if _, ok, err := b.TryLease(ctx, "collect"); ok || err != nil {
		t.Fatalf("b took a's lease: %v %v", ok, err)
	}
	a.Close()
	if release, ok, err := b.TryLease(ctx, "collect"); !ok || err != nil {
		t.Fatalf("b after a went away: %v %v", ok, err)
	} else {
		release()
	}
}
