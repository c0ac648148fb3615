package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresSchemaVersion is the database layout this code writes.
const PostgresSchemaVersion = 4

// migrationLock is the advisory lock (an arbitrary constant: "keyport" in
// ASCII) under which replicas starting together migrate one at a time.
const migrationLock = 0x6b6579706f7274

// postgresMigrations[i] brings a database from version i to i+1. Times are
// kept as Unix nanoseconds, as in the bbolt store, so that both order and
// compare them exactly alike; key records use the bbolt store's codec.
var postgresMigrations = []string{
	`CREATE TABLE keyport_meta (name text PRIMARY KEY, value text NOT NULL);
	 CREATE TABLE keyport_keys (
		id         text PRIMARY KEY,
		seq        bigint NOT NULL UNIQUE,
		deadline   bigint,
		hsm_object text,
		record     bytea NOT NULL);
	 CREATE INDEX keyport_keys_deadline ON keyport_keys (deadline, id) WHERE deadline IS NOT NULL;
	 CREATE INDEX keyport_keys_object ON keyport_keys (hsm_object) WHERE hsm_object IS NOT NULL;
	 CREATE SEQUENCE keyport_key_seq MINVALUE 0 START 0;
	 CREATE TABLE keyport_key_count (one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL);
	 INSERT INTO keyport_key_count VALUES (true, 0);
	 CREATE TABLE keyport_wrapping (
		id      text PRIMARY KEY,
		spec    text NOT NULL,
		issued  boolean NOT NULL,
		added   bigserial,
		expires bigint,
		record  bytea NOT NULL);
	 CREATE INDEX keyport_wrapping_pool ON keyport_wrapping (spec, added) WHERE NOT issued;
	 CREATE INDEX keyport_wrapping_expiry ON keyport_wrapping (expires, id) WHERE issued AND expires IS NOT NULL;
	 CREATE TABLE keyport_access_keys (id text PRIMARY KEY, record bytea NOT NULL);
	 CREATE TABLE keyport_uses (
		credential text NOT NULL,
		digest     bytea NOT NULL,
		bind       bytea NOT NULL,
		conn       text NOT NULL,
		expires    bigint NOT NULL,
		PRIMARY KEY (credential, digest));
	 CREATE INDEX keyport_uses_expiry ON keyport_uses (expires);`,
	// 1 → 2: every token object a key refers to (rotation gives a key
	// several), and aliases.
	`CREATE TABLE keyport_key_objects (
		object text PRIMARY KEY,
		key_id text NOT NULL REFERENCES keyport_keys (id) ON DELETE CASCADE);
	 CREATE INDEX keyport_key_objects_key ON keyport_key_objects (key_id);
	 INSERT INTO keyport_key_objects SELECT hsm_object, id FROM keyport_keys WHERE hsm_object IS NOT NULL;
	 CREATE TABLE keyport_aliases (
		name    text PRIMARY KEY,
		key_id  text NOT NULL,
		created bigint NOT NULL,
		updated bigint);
	 CREATE INDEX keyport_aliases_key ON keyport_aliases (key_id);`,
	// 2 → 3: the ledger of token objects this store made or adopted (every
	// object referred to until now), and admin actions.
	`CREATE TABLE keyport_owned_objects (object text PRIMARY KEY, since bigint NOT NULL);
	 INSERT INTO keyport_owned_objects SELECT object, (extract(epoch from now()) * 1e9)::bigint FROM keyport_key_objects ON CONFLICT DO NOTHING;
	 INSERT INTO keyport_owned_objects SELECT id, (extract(epoch from now()) * 1e9)::bigint FROM keyport_wrapping ON CONFLICT DO NOTHING;
	 CREATE TABLE keyport_admin_log (seq bigserial PRIMARY KEY, record jsonb NOT NULL);`,
	// 3 → 4: a use is its value alone (Tencent signatures are no longer
	// bound to an action and a connection).
	`ALTER TABLE keyport_uses DROP COLUMN bind, DROP COLUMN conn;`,
}

// Postgres is the store for replicas: every Keyport process of a deployment
// points at one PostgreSQL database, and every change is one transaction
// committed (and so durable) before it returns.
type Postgres struct {
	db     *pgxpool.Pool
	target string // host:port/database, for messages (never the password)
	leases localLeases

	leaseMu    sync.Mutex
	leaseConns map[*pgx.Conn]bool // one connection per lease held
}

var _ Store = (*Postgres)(nil)

// IsPostgresURL reports whether the --store value names a PostgreSQL database.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// OpenPostgres connects to the database at url and brings its schema up to
// date under an advisory lock (replicas starting together migrate once).
// With create false, a database that holds no Keyport store is refused with
// ErrNoStore, as OpenBolt refuses a directory: only `serve` makes a store.
func OpenPostgres(ctx context.Context, url string, create bool) (*Postgres, error) {
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
	s := &Postgres{db: db, target: target, leaseConns: map[*pgx.Conn]bool{}}
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

func (s *Postgres) migrate(ctx context.Context, create bool) error {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('keyport_schema') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		version := 0
		if exists {
			if err := tx.QueryRow(ctx, `SELECT version FROM keyport_schema`).Scan(&version); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
		} else if !create {
			return fmt.Errorf("%w in database %s", ErrNoStore, s.target)
		}
		if version > PostgresSchemaVersion {
			return fmt.Errorf("database schema version %d is newer than this Keyport understands (%d): run the newer Keyport", version, PostgresSchemaVersion)
		}
		if version == PostgresSchemaVersion {
			return nil
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE keyport_schema (version int NOT NULL); INSERT INTO keyport_schema VALUES (0)`); err != nil {
				return err
			}
		}
		for ; version < PostgresSchemaVersion; version++ {
			if _, err := tx.Exec(ctx, postgresMigrations[version]); err != nil {
				return fmt.Errorf("migrate schema %d → %d: %w", version, version+1, err)
			}
		}
		if !exists { // a new store: a new deployment
			id, err := NewDeploymentID()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_meta VALUES ($1, $2)`, MetaDeployment, id); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE keyport_schema SET version = $1`, PostgresSchemaVersion)
		return err
	})
	if err != nil {
		return s.fault(err)
	}
	return nil
}

// fault names the database in an error that is about reaching it.
func (s *Postgres) fault(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, ErrNoStore), errors.Is(err, ErrNotFound), errors.Is(err, ErrExists),
		errors.Is(err, ErrPoolEmpty), errors.As(err, &pgErr) && !strings.HasPrefix(pgErr.Code, "08") && !strings.HasPrefix(pgErr.Code, "57"):
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: PostgreSQL at %s: %w", ErrUnavailable, s.target, err)
}

// Target is host:port/database, without credentials.
func (s *Postgres) Target() string { return s.target }

// Shared is true: replicas share the database.
func (s *Postgres) Shared() bool { return true }

// Ping checks that the database answers.
func (s *Postgres) Ping(ctx context.Context) error { return s.fault(s.db.Ping(ctx)) }

// Close gives up the leases held and closes the connections.
func (s *Postgres) Close() error {
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
func (s *Postgres) tx(ctx context.Context, fn func(pgx.Tx) error) error {
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

func (s *Postgres) CreateKey(ctx context.Context, k *Key) error {
	return s.CreateKeys(ctx, []*Key{k})
}

func (s *Postgres) CreateKeys(ctx context.Context, keys []*Key) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, k := range keys {
			if err := tx.QueryRow(ctx, `SELECT nextval('keyport_key_seq')`).Scan(&k.Seq); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_keys (id, seq, deadline, hsm_object, record) VALUES ($1, $2, $3, $4, $5)`,
				k.ID, int64(k.Seq), nanos(k.Deadline()), nullable(k.HSMObject), encodeKey(k)); err != nil {
				if isUniqueViolation(err) {
					return ErrExists
				}
				return err
			}
			if err := indexObjects(ctx, tx, nil, k); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE keyport_key_count SET n = n + $1`, len(keys))
		return err
	})
	return err
}

func scanKey(row pgx.Row) (*Key, error) { return scanKeyWith(row, decodeKey) }

func scanKeyWith(row pgx.Row, decode func([]byte) (*Key, error)) (*Key, error) {
	var buf []byte
	var seq int64
	if err := row.Scan(&buf, &seq); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	k, err := decode(buf)
	if err != nil {
		return nil, err
	}
	k.Seq = uint64(seq)
	return k, nil
}

func (s *Postgres) GetKey(ctx context.Context, id string) (*Key, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT record, seq FROM keyport_keys WHERE id = $1`, id))
	return k, s.fault(err)
}

func (s *Postgres) GetPrimary(ctx context.Context, id string) (*Key, error) {
	k, err := scanKeyWith(s.db.QueryRow(ctx, `SELECT record, seq FROM keyport_keys WHERE id = $1`, id), decodePrimary)
	return k, s.fault(err)
}

func (s *Postgres) UpdateKey(ctx context.Context, id string, fn func(*Key) error) (k *Key, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if k, err = scanKey(tx.QueryRow(ctx, `SELECT record, seq FROM keyport_keys WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		before := k.Objects()
		if err := fn(k); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE keyport_keys SET deadline = $2, hsm_object = $3, record = $4 WHERE id = $1`,
			id, nanos(k.Deadline()), nullable(k.HSMObject), encodeKey(k)); err != nil {
			return err
		}
		return indexObjects(ctx, tx, before, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Postgres) DeleteKey(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM keyport_keys WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM keyport_aliases WHERE key_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE keyport_key_count SET n = n - 1`)
		return err
	})
}

// indexObjects brings keyport_key_objects from the objects before had to
// those k has now; most updates change none and cost no statement.
func indexObjects(ctx context.Context, tx pgx.Tx, before []string, k *Key) error {
	now := k.Objects()
	if slices.Equal(before, now) {
		return nil
	}
	for _, o := range before {
		if !slices.Contains(now, o) {
			if _, err := tx.Exec(ctx, `DELETE FROM keyport_key_objects WHERE object = $1`, o); err != nil {
				return err
			}
		}
	}
	for _, o := range now {
		if !slices.Contains(before, o) {
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_key_objects VALUES ($1, $2)`, o, k.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListKeys reads the count kept beside the keys and skips offset keys along
// the creation-order index.
func (s *Postgres) ListKeys(ctx context.Context, offset, limit int) (keys []*Key, total int, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT n FROM keyport_key_count`).Scan(&total); err != nil {
			return err
		}
		if limit <= 0 || offset >= total {
			return nil
		}
		keys, err = collectKeys(tx.Query(ctx, `SELECT record, seq FROM keyport_keys ORDER BY seq OFFSET $1 LIMIT $2`, offset, limit))
		return err
	})
	return keys, total, err
}

func collectKeys(rows pgx.Rows, err error) ([]*Key, error) {
	if err != nil {
		return nil, err
	}
	var out []*Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// pages reads a query in batches of `batch` rows, each batch one query
// resuming after the last row's position, and calls fn outside any
// transaction (fn may write): it never holds the whole table. query gets
// the position to resume after (nil first) and returns the batch and the
// position of its last row.
func pages[T any](ctx context.Context, s *Postgres, query func(after []any) ([]T, []any, error), fn func(T) bool) error {
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
		if len(items) < batch {
			return nil
		}
		after = last
	}
}

func (s *Postgres) EachKey(ctx context.Context, fn func(*Key) bool) error {
	return pages(ctx, s, func(after []any) ([]*Key, []any, error) {
		from := int64(-1)
		if after != nil {
			from = after[0].(int64)
		}
		keys, err := collectKeys(s.db.Query(ctx, `SELECT record, seq FROM keyport_keys WHERE seq > $1 ORDER BY seq LIMIT $2`, from, batch))
		if err != nil || len(keys) == 0 {
			return keys, nil, err
		}
		return keys, []any{int64(keys[len(keys)-1].Seq)}, nil
	}, fn)
}

func (s *Postgres) DueKeys(ctx context.Context, until time.Time, fn func(*Key) bool) error {
	return pages(ctx, s, func(after []any) ([]*Key, []any, error) {
		var rows pgx.Rows
		var err error
		if after == nil {
			rows, err = s.db.Query(ctx, `SELECT record, seq FROM keyport_keys WHERE deadline IS NOT NULL AND deadline <= $1
				ORDER BY deadline, id LIMIT $2`, until.UnixNano(), batch)
		} else {
			rows, err = s.db.Query(ctx, `SELECT record, seq FROM keyport_keys WHERE deadline IS NOT NULL AND deadline <= $1
				AND (deadline, id) > ($3, $4) ORDER BY deadline, id LIMIT $2`, until.UnixNano(), batch, after[0], after[1])
		}
		keys, err := collectKeys(rows, err)
		if err != nil || len(keys) == 0 {
			return keys, nil, err
		}
		last := keys[len(keys)-1]
		return keys, []any{last.Deadline().UnixNano(), last.ID}, nil
	}, fn)
}

func (s *Postgres) KeyObjects(ctx context.Context, fn func(object, keyID string) bool) error {
	type ref struct{ object, key string }
	return pages(ctx, s, func(after []any) ([]ref, []any, error) {
		from := ""
		if after != nil {
			from = after[0].(string)
		}
		rows, err := s.db.Query(ctx, `SELECT object, key_id FROM keyport_key_objects WHERE object > $1
			ORDER BY object LIMIT $2`, from, batch)
		if err != nil {
			return nil, nil, err
		}
		refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ref, error) {
			var x ref
			return x, r.Scan(&x.object, &x.key)
		})
		if err != nil || len(refs) == 0 {
			return refs, nil, err
		}
		return refs, []any{refs[len(refs)-1].object}, nil
	}, func(r ref) bool { return fn(r.object, r.key) })
}

func (s *Postgres) putWrapping(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, w *WrappingKey, issued bool) error {
	buf, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO keyport_wrapping (id, spec, issued, expires, record) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET spec = $2, issued = $3, expires = $4, record = $5`,
		w.ID, w.Spec, issued, nanos(w.Expires), buf)
	return err
}

func (s *Postgres) AddPooled(ctx context.Context, w *WrappingKey) error {
	return s.fault(s.putWrapping(ctx, s.db, w, false))
}

// ClaimPooled takes the oldest pooled pair no other transaction is taking
// (FOR UPDATE SKIP LOCKED): replicas claiming at once get different pairs
// and never wait on each other.
func (s *Postgres) ClaimPooled(ctx context.Context, spec string, bind func(*WrappingKey)) (w *WrappingKey, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var buf []byte
		err := tx.QueryRow(ctx, `SELECT record FROM keyport_wrapping WHERE spec = $1 AND NOT issued
			ORDER BY added LIMIT 1 FOR UPDATE SKIP LOCKED`, spec).Scan(&buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrPoolEmpty
		}
		if err != nil {
			return err
		}
		w = new(WrappingKey)
		if err := json.Unmarshal(buf, w); err != nil {
			return fmt.Errorf("decode pooled wrapping key: %w", err)
		}
		bind(w)
		return s.putWrapping(ctx, tx, w, true)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Postgres) CountPooled(ctx context.Context, spec string) (n int, err error) {
	err = s.db.QueryRow(ctx, `SELECT count(*) FROM keyport_wrapping WHERE spec = $1 AND NOT issued`, spec).Scan(&n)
	return n, s.fault(err)
}

func (s *Postgres) PutIssued(ctx context.Context, w *WrappingKey) error {
	return s.fault(s.putWrapping(ctx, s.db, w, true))
}

// scanJSON reads a row's one column, a record kept as JSON.
func scanJSON[T any](row pgx.Row) (*T, error) {
	var buf []byte
	if err := row.Scan(&buf); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	v := new(T)
	return v, json.Unmarshal(buf, v)
}

func scanWrapping(row pgx.Row) (*WrappingKey, error) { return scanJSON[WrappingKey](row) }

func (s *Postgres) GetIssued(ctx context.Context, id string) (*WrappingKey, error) {
	w, err := scanWrapping(s.db.QueryRow(ctx, `SELECT record FROM keyport_wrapping WHERE id = $1 AND issued`, id))
	return w, s.fault(err)
}

// UpdateIssued locks the row for fn: the failed-decryption count of a
// wrapping key is checked and raised atomically across replicas.
func (s *Postgres) UpdateIssued(ctx context.Context, id string, fn func(*WrappingKey) error) (w *WrappingKey, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if w, err = scanWrapping(tx.QueryRow(ctx, `SELECT record FROM keyport_wrapping WHERE id = $1 AND issued FOR UPDATE`, id)); err != nil {
			return err
		}
		if err := fn(w); err != nil {
			return err
		}
		return s.putWrapping(ctx, tx, w, true)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (s *Postgres) DeleteWrapping(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM keyport_wrapping WHERE id = $1`, id)
	return s.fault(err)
}

func collectWrapping(rows pgx.Rows, err error) ([]*WrappingKey, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*WrappingKey, error) { return scanWrapping(r) })
}

func (s *Postgres) EachWrapping(ctx context.Context, fn func(*WrappingKey) bool) error {
	return pages(ctx, s, func(after []any) ([]*WrappingKey, []any, error) {
		from := ""
		if after != nil {
			from = after[0].(string)
		}
		ws, err := collectWrapping(s.db.Query(ctx, `SELECT record FROM keyport_wrapping WHERE id > $1 ORDER BY id LIMIT $2`, from, batch))
		if err != nil || len(ws) == 0 {
			return ws, nil, err
		}
		return ws, []any{ws[len(ws)-1].ID}, nil
	}, fn)
}

func (s *Postgres) DueWrapping(ctx context.Context, until time.Time, fn func(*WrappingKey) bool) error {
	return pages(ctx, s, func(after []any) ([]*WrappingKey, []any, error) {
		q := `SELECT record FROM keyport_wrapping WHERE issued AND expires IS NOT NULL AND expires <= $1`
		args := []any{until.UnixNano(), batch}
		if after != nil {
			q += ` AND (expires, id) > ($3, $4)`
			args = append(args, after...)
		}
		ws, err := collectWrapping(s.db.Query(ctx, q+` ORDER BY expires, id LIMIT $2`, args...))
		if err != nil || len(ws) == 0 {
			return ws, nil, err
		}
		last := ws[len(ws)-1]
		return ws, []any{last.Expires.UnixNano(), last.ID}, nil
	}, fn)
}

func (s *Postgres) PutAccessKey(ctx context.Context, a *AccessKey) error {
	buf, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO keyport_access_keys (id, record) VALUES ($1, $2)`, a.ID, buf)
	if isUniqueViolation(err) {
		return ErrExists
	}
	return s.fault(err)
}

func scanAccessKey(row pgx.Row) (*AccessKey, error) { return scanJSON[AccessKey](row) }

func (s *Postgres) GetAccessKey(ctx context.Context, id string) (*AccessKey, error) {
	a, err := scanAccessKey(s.db.QueryRow(ctx, `SELECT record FROM keyport_access_keys WHERE id = $1`, id))
	return a, s.fault(err)
}

func (s *Postgres) UpdateAccessKey(ctx context.Context, id string, fn func(*AccessKey) error) (a *AccessKey, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if a, err = scanAccessKey(tx.QueryRow(ctx, `SELECT record FROM keyport_access_keys WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		buf, err := json.Marshal(a)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE keyport_access_keys SET record = $2 WHERE id = $1`, id, buf)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *Postgres) DeleteAccessKey(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM keyport_access_keys WHERE id = $1`, id)
	if err != nil {
		return s.fault(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *Postgres) ListAccessKeys(ctx context.Context) ([]*AccessKey, error) {
	rows, err := s.db.Query(ctx, `SELECT record FROM keyport_access_keys ORDER BY id`)
	if err != nil {
		return nil, s.fault(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*AccessKey, error) { return scanAccessKey(r) })
	return out, s.fault(err)
}

func (s *Postgres) Meta(ctx context.Context, name string) (v string, err error) {
	err = s.db.QueryRow(ctx, `SELECT value FROM keyport_meta WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, s.fault(err)
}

// InitMeta inserts unless a row is there, then reads in a statement of its
// own: a statement's snapshot predates a racing insert it waited for, so
// one statement cannot both lose the race and see the winner.
func (s *Postgres) InitMeta(ctx context.Context, name, value string) (string, error) {
	for {
		tag, err := s.db.Exec(ctx, `INSERT INTO keyport_meta VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value)
		if err != nil {
			return "", s.fault(err)
		}
		if tag.RowsAffected() == 1 {
			return value, nil
		}
		if v, err := s.Meta(ctx, name); err != nil || v != "" {
			return v, err
		}
		// The winner's row went away meanwhile (deleted by a copy): try again.
	}
}

// RecordUse records u unless a live use of its value is recorded: the
// primary key makes the check and the insert one atomic step across
// replicas, and an expired row is taken over in the same statement.
func (s *Postgres) RecordUse(ctx context.Context, u Use, now time.Time) (fresh bool, err error) {
	err = s.db.QueryRow(ctx, `INSERT INTO keyport_uses (credential, digest, expires) VALUES ($1, $2, $3)
		ON CONFLICT (credential, digest) DO UPDATE SET expires = $3 WHERE keyport_uses.expires <= $4
		RETURNING true`, u.Credential, u.Value[:], u.Until.UnixNano(), now.UnixNano()).Scan(&fresh)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	}
	return false, s.fault(err)
}

// ForgetUses deletes uses that expired before now.
func (s *Postgres) ForgetUses(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM keyport_uses WHERE expires <= $1`, now.UnixNano())
	if err != nil {
		return 0, s.fault(err)
	}
	return int(tag.RowsAffected()), nil
}

// TryLease takes the named lease if no process holds it: a session
// advisory lock on a connection of its own, kept until release. If this
// process dies or loses the connection, PostgreSQL releases the lock with it.
func (s *Postgres) TryLease(ctx context.Context, name string) (release func(), ok bool, err error) {
	if !s.leases.take(name) {
		return nil, false, nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.db.Config().ConnConfig.Copy())
	if err != nil {
		s.leases.drop(name)
		return nil, false, s.fault(err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('keyport/lease/' || $1, 0))`, name).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		s.leases.drop(name)
		return nil, false, s.fault(err)
	}
	s.leaseMu.Lock()
	s.leaseConns[conn] = true
	s.leaseMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.leaseMu.Lock()
			delete(s.leaseConns, conn)
			s.leaseMu.Unlock()
			conn.Close(context.Background()) // the lock goes with its session
			s.leases.drop(name)
		})
	}, true, nil
}

// Counts are how many records of each kind a store holds.
type Counts struct{ Keys, WrappingKeys, AccessKeys, Aliases int }

// CountAll counts a store's records.
func CountAll(ctx context.Context, s Store) (Counts, error) {
	var c Counts
	var err error
	if _, c.Keys, err = s.ListKeys(ctx, 0, 0); err != nil {
		return c, err
	}
	if err := s.EachWrapping(ctx, func(*WrappingKey) bool { c.WrappingKeys++; return true }); err != nil {
		return c, err
	}
	aks, err := s.ListAccessKeys(ctx)
	if err != nil {
		return c, err
	}
	c.AccessKeys = len(aks)
	aliases, err := s.ListAliases(ctx, "", "")
	c.Aliases = len(aliases)
	return c, err
}

// copiedMeta are the settings a copy takes over: the deployment id above
// all, which every token object of the deployment carries in its label.
var copiedMeta = []string{MetaDeployment, MetaLegacyObjects, MetaMasterSeal, MetaMasterMAC}

// LoadFrom copies every record of src (keys with their sealed material and
// fingerprints, pooled and issued wrapping keys, access keys, and the
// deployment's settings) into this database, which must hold no records,
// in one transaction: a copy that fails leaves the database as it was.
// progress is called with the number of records copied so far.
func (s *Postgres) LoadFrom(ctx context.Context, src Store, progress func(done int)) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var busy bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM keyport_keys) OR EXISTS (SELECT 1 FROM keyport_wrapping)
			OR EXISTS (SELECT 1 FROM keyport_access_keys) OR EXISTS (SELECT 1 FROM keyport_aliases)`).Scan(&busy); err != nil {
			return err
		}
		if busy {
			return fmt.Errorf("database %s already holds a Keyport store with records: give an empty database", s.target)
		}
		for _, name := range copiedMeta {
			v, err := src.Meta(ctx, name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM keyport_meta WHERE name = $1`, name); err != nil {
				return err
			}
			if v == "" {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_meta VALUES ($1, $2)`, name, v); err != nil {
				return err
			}
		}
		done := 0
		step := func() {
			done++
			if progress != nil {
				progress(done)
			}
		}
		var failed error
		keys := 0
		err := src.EachKey(ctx, func(k *Key) bool {
			_, failed = tx.Exec(ctx, `INSERT INTO keyport_keys (id, seq, deadline, hsm_object, record)
				VALUES ($1, nextval('keyport_key_seq'), $2, $3, $4)`, k.ID, nanos(k.Deadline()), nullable(k.HSMObject), encodeKey(k))
			if failed == nil {
				failed = indexObjects(ctx, tx, nil, k)
			}
			keys++
			step()
			return failed == nil
		})
		if err = errors.Join(err, failed); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE keyport_key_count SET n = $1`, keys); err != nil {
			return err
		}
		err = src.EachWrapping(ctx, func(w *WrappingKey) bool {
			failed = s.putWrapping(ctx, tx, w, w.KeyID != "")
			step()
			return failed == nil
		})
		if err = errors.Join(err, failed); err != nil {
			return err
		}
		aks, err := src.ListAccessKeys(ctx)
		if err != nil {
			return err
		}
		for _, a := range aks {
			buf, err := json.Marshal(a)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_access_keys (id, record) VALUES ($1, $2)`, a.ID, buf); err != nil {
				return err
			}
			step()
		}
		aliases, err := src.ListAliases(ctx, "", "")
		if err != nil {
			return err
		}
		for _, a := range aliases {
			if err := putAlias(ctx, tx, a); err != nil {
				return err
			}
			step()
		}
		// The ledger: the copy destroys only what the source had made.
		return errors.Join(src.EachOwned(ctx, func(id string, since time.Time) bool {
			_, failed = tx.Exec(ctx, `INSERT INTO keyport_owned_objects (object, since) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, since.UnixNano())
			return failed == nil
		}), failed)
	})
}

func putAlias(ctx context.Context, tx pgx.Tx, a *Alias) error {
	_, err := tx.Exec(ctx, `INSERT INTO keyport_aliases (name, key_id, created, updated) VALUES ($1, $2, $3, $4)`,
		a.Name, a.KeyID, a.Created.UnixNano(), nanos(a.Updated))
	if isUniqueViolation(err) {
		return ErrExists
	}
	return err
}

func (s *Postgres) PutAlias(ctx context.Context, a *Alias) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return putAlias(ctx, tx, a) })
}

func (s *Postgres) SetAlias(ctx context.Context, name, keyID string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE keyport_aliases SET key_id = $2, updated = $3 WHERE name = $1`, name, keyID, now.UnixNano())
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return s.fault(err)
}

func (s *Postgres) GetAlias(ctx context.Context, name string) (*Alias, error) {
	aliases, err := s.aliases(ctx, `WHERE name = $1`, name)
	if err == nil && len(aliases) == 0 {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return aliases[0], nil
}

func (s *Postgres) DeleteAlias(ctx context.Context, name string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM keyport_aliases WHERE name = $1`, name)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return s.fault(err)
}

func (s *Postgres) ListAliases(ctx context.Context, prefix, keyID string) ([]*Alias, error) {
	return s.aliases(ctx, `WHERE starts_with(name, $1) AND ($2 = '' OR key_id = $2) ORDER BY name`, prefix, keyID)
}

func (s *Postgres) aliases(ctx context.Context, where string, args ...any) ([]*Alias, error) {
	rows, err := s.db.Query(ctx, `SELECT name, key_id, created, updated FROM keyport_aliases `+where, args...)
	if err != nil {
		return nil, s.fault(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Alias, error) {
		var a Alias
		var created int64
		var updated *int64
		if err := r.Scan(&a.Name, &a.KeyID, &created, &updated); err != nil {
			return nil, err
		}
		a.Created = time.Unix(0, created).UTC()
		if updated != nil {
			a.Updated = time.Unix(0, *updated).UTC()
		}
		return &a, nil
	})
	return out, s.fault(err)
}
