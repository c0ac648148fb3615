// Package postgres is the store replicas share: one PostgreSQL database for
// every Keyport process of a deployment. It implements every view of
// store.Store and store.Uses; its files follow the views, schema.go holds
// the migrations, load.go the copy `store migrate` makes.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport-kms/keyport/store"
)

// Store is the store for replicas: every Keyport process of a deployment
// points at one PostgreSQL database, and every change is one transaction
// committed (and so durable) before it returns.
type Store struct {
	db     *pgxpool.Pool
	target string // host:port/database, for messages (never the password)
	leases store.LocalLeases

	leaseMu    sync.Mutex
	leaseConns map[*pgx.Conn]bool // one connection per lease held
}

var _ store.Store = (*Store)(nil)

// IsURL reports whether the --store value names a PostgreSQL database.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database at url and brings its schema up to
// date under an advisory lock (replicas starting together migrate once).
// With create false, a database that holds no Keyport store is refused with
// ErrNoStore, as bolt.Open refuses a directory: only `serve` makes a store.
func Open(ctx context.Context, url string, create bool) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", errors.New(redactURLError(err)))
	}
	target := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", target, err)
	}
	s := &Store{db: db, target: target, leaseConns: map[*pgx.Conn]bool{}}
	if err := s.migrate(ctx, create); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactURLError keeps a URL parse error from echoing a password.
func redactURLError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "://"); i >= 0 {
		if j := strings.Index(msg[i:], "@"); j > 0 {
			return msg[:i+3] + "…" + msg[i+j:]
		}
	}
	return msg
}

// fault names the database in an error that is about reaching it.
func (s *Store) fault(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, store.ErrNoStore), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExists),
		errors.Is(err, store.ErrPoolEmpty), errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57"):
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: PostgreSQL at %s: %w", store.ErrUnavailable, s.target, err)
}

// Target is host:port/database, without credentials.
func (s *Store) Target() string { return s.target }

// Shared is true: replicas share the database.
func (s *Store) Shared() bool { return true }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.fault(s.db.Ping(ctx)) }

// Close gives up the leases held and closes the connections.
func (s *Store) Close() error {
	s.leaseMu.Lock()
	for conn := range s.leaseConns {
		conn.Close(context.Background())
	}
	clear(s.leaseConns)
	s.leaseMu.Unlock()
	s.db.Close()
	return nil
}

// tx runs fn in one transaction.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.fault(pgx.BeginFunc(ctx, s.db, fn))
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// pages reads a query in batches of `batch` rows, each batch one query
// resuming after the last row's position, and calls fn outside any
// transaction (fn may write): it never holds the whole table. query gets
// the position to resume after (nil first) and returns the batch and the
// position of its last row.
func pages[T any](ctx context.Context, s *Store, query func(after []any) ([]T, []any, error), fn func(T) bool) error {
	var after []any
	for {
		items, last, err := query(after)
		if err != nil {
			return s.fault(err)
		}
		for _, it := range items {
			if !fn(it) {
				return nil
			}
		}
		if len(items) < store.Batch {
			return nil
		}
		after = last
	}
}

// execer is the pool or a transaction.
type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

// scanJSON reads a row's one column, a record kept as JSON.
func scanJSON[T any](row pgx.Row) (*T, error) {
	var buf []byte
	if err := row.Scan(&buf); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	v := new(T)
	return v, json.Unmarshal(buf, v)
}
