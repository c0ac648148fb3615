package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) PutAccessKey(ctx context.Context, a *store.AccessKey) error {
	buf, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `INSERT INTO keyport_access_keys (id, record) VALUES ($1, $2)`, a.ID, buf)
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	return s.fault(err)
}

func scanAccessKey(row pgx.Row) (*store.AccessKey, error) { return scanJSON[store.AccessKey](row) }

func (s *Store) GetAccessKey(ctx context.Context, id string) (*store.AccessKey, error) {
	a, err := scanAccessKey(s.db.QueryRow(ctx, `SELECT record FROM keyport_access_keys WHERE id = $1`, id))
	return a, s.fault(err)
}

func (s *Store) UpdateAccessKey(ctx context.Context, id string, fn func(*store.AccessKey) error) (a *store.AccessKey, err error) {
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

func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	tag, err := s.db.Exec(ctx, `DELETE FROM keyport_access_keys WHERE id = $1`, id)
	if err != nil {
		return s.fault(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) ListAccessKeys(ctx context.Context) ([]*store.AccessKey, error) {
	rows, err := s.db.Query(ctx, `SELECT record FROM keyport_access_keys ORDER BY id`)
	if err != nil {
		return nil, s.fault(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.AccessKey, error) { return scanAccessKey(r) })
	return out, s.fault(err)
}
