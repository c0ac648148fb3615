package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) putWrapping(ctx context.Context, q execer, w *store.WrappingKey, issued bool) error {
	buf, err := json.Marshal(w)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO keyport_wrapping (id, spec, issued, expires, record) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET spec = $2, issued = $3, expires = $4, record = $5`,
		w.ID, w.Spec, issued, nanos(w.Expires), buf)
	return err
}

func (s *Store) AddPooled(ctx context.Context, w *store.WrappingKey) error {
	return s.fault(s.putWrapping(ctx, s.db, w, false))
}

// ClaimPooled takes the oldest pooled pair no other transaction is taking
// (FOR UPDATE SKIP LOCKED): replicas claiming at once get different pairs
// and never wait on each other.
func (s *Store) ClaimPooled(ctx context.Context, spec string, bind func(*store.WrappingKey)) (w *store.WrappingKey, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		var buf []byte
		err := tx.QueryRow(ctx, `SELECT record FROM keyport_wrapping WHERE spec = $1 AND NOT issued
			ORDER BY added LIMIT 1 FOR UPDATE SKIP LOCKED`, spec).Scan(&buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrPoolEmpty
		}
		if err != nil {
			return err
		}
		w = new(store.WrappingKey)
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

func (s *Store) CountPooled(ctx context.Context, spec string) (n int, err error) {
	err = s.db.QueryRow(ctx, `SELECT count(*) FROM keyport_wrapping WHERE spec = $1 AND NOT issued`, spec).Scan(&n)
	return n, s.fault(err)
}

func (s *Store) PutIssued(ctx context.Context, w *store.WrappingKey) error {
	return s.fault(s.putWrapping(ctx, s.db, w, true))
}

func scanWrapping(row pgx.Row) (*store.WrappingKey, error) { return scanJSON[store.WrappingKey](row) }

func (s *Store) GetIssued(ctx context.Context, id string) (*store.WrappingKey, error) {
	w, err := scanWrapping(s.db.QueryRow(ctx, `SELECT record FROM keyport_wrapping WHERE id = $1 AND issued`, id))
	return w, s.fault(err)
}

// UpdateIssued locks the row for fn: the failed-decryption count of a
// wrapping key is checked and raised atomically across replicas.
func (s *Store) UpdateIssued(ctx context.Context, id string, fn func(*store.WrappingKey) error) (w *store.WrappingKey, err error) {
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

func (s *Store) DeleteWrapping(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM keyport_wrapping WHERE id = $1`, id)
	return s.fault(err)
}

func collectWrapping(rows pgx.Rows, err error) ([]*store.WrappingKey, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.WrappingKey, error) { return scanWrapping(r) })
}

func (s *Store) EachWrapping(ctx context.Context, fn func(*store.WrappingKey) bool) error {
	return pages(ctx, s, func(after []any) ([]*store.WrappingKey, []any, error) {
		from := ""
		if after != nil {
			from = after[0].(string)
		}
		ws, err := collectWrapping(s.db.Query(ctx, `SELECT record FROM keyport_wrapping WHERE id > $1 ORDER BY id LIMIT $2`, from, store.Batch))
		if err != nil || len(ws) == 0 {
			return ws, nil, err
		}
		return ws, []any{ws[len(ws)-1].ID}, nil
	}, fn)
}

func (s *Store) DueWrapping(ctx context.Context, until time.Time, fn func(*store.WrappingKey) bool) error {
	return pages(ctx, s, func(after []any) ([]*store.WrappingKey, []any, error) {
		q := `SELECT record FROM keyport_wrapping WHERE issued AND expires IS NOT NULL AND expires <= $1`
		args := []any{until.UnixNano(), store.Batch}
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
