package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

func putAlias(ctx context.Context, tx pgx.Tx, a *store.Alias) error {
	_, err := tx.Exec(ctx, `INSERT INTO keyport_aliases (name, key_id, created, updated) VALUES ($1, $2, $3, $4)`,
		a.Name, a.KeyID, a.Created.UnixNano(), nanos(a.Updated))
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	return err
}

func (s *Store) PutAlias(ctx context.Context, a *store.Alias) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return putAlias(ctx, tx, a) })
}

func (s *Store) SetAlias(ctx context.Context, name, keyID string, now time.Time) error {
	tag, err := s.db.Exec(ctx, `UPDATE keyport_aliases SET key_id = $2, updated = $3 WHERE name = $1`, name, keyID, now.UnixNano())
	if err == nil && tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return s.fault(err)
}

func (s *Store) GetAlias(ctx context.Context, name string) (*store.Alias, error) {
	aliases, err := s.aliases(ctx, `WHERE name = $1`, name)
	if err == nil && len(aliases) == 0 {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return aliases[0], nil
}

func (s *Store) DeleteAlias(ctx context.Context, name string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM keyport_aliases WHERE name = $1`, name)
	if err == nil && tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return s.fault(err)
}

func (s *Store) ListAliases(ctx context.Context, prefix, keyID string) ([]*store.Alias, error) {
	return s.aliases(ctx, `WHERE starts_with(name, $1) AND ($2 = '' OR key_id = $2) ORDER BY name`, prefix, keyID)
}

func (s *Store) aliases(ctx context.Context, where string, args ...any) ([]*store.Alias, error) {
	rows, err := s.db.Query(ctx, `SELECT name, key_id, created, updated FROM keyport_aliases `+where, args...)
	if err != nil {
		return nil, s.fault(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.Alias, error) {
		var a store.Alias
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
