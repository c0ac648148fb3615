package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

// tableOf is a table of JSON records by name (id text PRIMARY KEY, record
// bytea): what access keys and users are, and all they need. table is a
// constant of this package, never input.
type tableOf[T any] struct {
	s     *Store
	table string
}

func (t tableOf[T]) create(ctx context.Context, q execer, id string, v *T) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO `+t.table+` (id, record) VALUES ($1, $2)`, id, buf)
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	return t.s.fault(err)
}

func (t tableOf[T]) get(ctx context.Context, id string) (*T, error) {
	v, err := scanJSON[T](t.s.db.QueryRow(ctx, `SELECT record FROM `+t.table+` WHERE id = $1`, id))
	return v, t.s.fault(err)
}

// update locks the row for fn, so that changes from replicas serialise.
func (t tableOf[T]) update(ctx context.Context, id string, fn func(*T) error) (v *T, err error) {
	err = t.s.tx(ctx, func(tx pgx.Tx) error {
		if v, err = scanJSON[T](tx.QueryRow(ctx, `SELECT record FROM `+t.table+` WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		buf, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE `+t.table+` SET record = $2 WHERE id = $1`, id, buf)
		return err
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (t tableOf[T]) delete(ctx context.Context, id string) error {
	tag, err := t.s.db.Exec(ctx, `DELETE FROM `+t.table+` WHERE id = $1`, id)
	if err != nil {
		return t.s.fault(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// list returns every record in id order.
func (t tableOf[T]) list(ctx context.Context) ([]*T, error) {
	rows, err := t.s.db.Query(ctx, `SELECT record FROM `+t.table+` ORDER BY id`)
	if err != nil {
		return nil, t.s.fault(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*T, error) { return scanJSON[T](r) })
	return out, t.s.fault(err)
}

func (s *Store) accessKeys() tableOf[store.AccessKey] {
	return tableOf[store.AccessKey]{s, "keyport_access_keys"}
}

func (s *Store) PutAccessKey(ctx context.Context, a *store.AccessKey) error {
	return s.accessKeys().create(ctx, s.db, a.ID, a)
}

func (s *Store) GetAccessKey(ctx context.Context, id string) (*store.AccessKey, error) {
	return s.accessKeys().get(ctx, id)
}

func (s *Store) UpdateAccessKey(ctx context.Context, id string, fn func(*store.AccessKey) error) (*store.AccessKey, error) {
	return s.accessKeys().update(ctx, id, fn)
}

func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	return s.accessKeys().delete(ctx, id)
}

func (s *Store) ListAccessKeys(ctx context.Context) ([]*store.AccessKey, error) {
	return s.accessKeys().list(ctx)
}
