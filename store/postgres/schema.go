package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

// SchemaVersion is the database layout this code writes.
const SchemaVersion = 5

// migrationLock is the advisory lock (an arbitrary constant: "keyport" in
// ASCII) under which replicas starting together migrate one at a time.
const migrationLock = 0x6b6579706f7274

// migrations[i] brings a database from version i to i+1. Times are
// kept as Unix nanoseconds, as in the bbolt store, so that both order and
// compare them exactly alike; key records use the bbolt store's codec.
var migrations = []string{
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
	// 4 → 5: users and their policies.
	`CREATE TABLE keyport_users (id text PRIMARY KEY, record bytea NOT NULL);`,
}

func (s *Store) migrate(ctx context.Context, create bool) error {
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
			return fmt.Errorf("%w in database %s", store.ErrNoStore, s.target)
		}
		if version > SchemaVersion {
			return fmt.Errorf("database schema version %d is newer than this Keyport understands (%d): run the newer Keyport", version, SchemaVersion)
		}
		if version == SchemaVersion {
			return nil
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE keyport_schema (version int NOT NULL); INSERT INTO keyport_schema VALUES (0)`); err != nil {
				return err
			}
		}
		for ; version < SchemaVersion; version++ {
			if _, err := tx.Exec(ctx, migrations[version]); err != nil {
				return fmt.Errorf("migrate schema %d → %d: %w", version, version+1, err)
			}
		}
		if !exists { // a new store: a new deployment
			id, err := store.NewDeploymentID()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_meta VALUES ($1, $2)`, store.MetaDeployment, id); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE keyport_schema SET version = $1`, SchemaVersion)
		return err
	})
	if err != nil {
		return s.fault(err)
	}
	return nil
}
