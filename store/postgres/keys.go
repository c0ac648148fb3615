package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) CreateKey(ctx context.Context, k *store.Key) error {
	return s.CreateKeys(ctx, []*store.Key{k})
}

func (s *Store) CreateKeys(ctx context.Context, keys []*store.Key) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for _, k := range keys {
			if err := tx.QueryRow(ctx, `SELECT nextval('keyport_key_seq')`).Scan(&k.Seq); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keyport_keys (id, seq, deadline, hsm_object, record) VALUES ($1, $2, $3, $4, $5)`,
				k.ID, int64(k.Seq), nanos(k.Deadline()), nullable(k.HSMObject), store.EncodeKey(k)); err != nil {
				if isUniqueViolation(err) {
					return store.ErrExists
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

func scanKey(row pgx.Row) (*store.Key, error) { return scanKeyWith(row, store.DecodeKey) }

func scanKeyWith(row pgx.Row, decode func([]byte) (*store.Key, error)) (*store.Key, error) {
	var buf []byte
	var seq int64
	if err := row.Scan(&buf, &seq); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, store.ErrNotFound
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

func (s *Store) GetKey(ctx context.Context, id string) (*store.Key, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT record, seq FROM keyport_keys WHERE id = $1`, id))
	return k, s.fault(err)
}

func (s *Store) GetPrimary(ctx context.Context, id string) (*store.Key, error) {
	k, err := scanKeyWith(s.db.QueryRow(ctx, `SELECT record, seq FROM keyport_keys WHERE id = $1`, id), store.DecodePrimary)
	return k, s.fault(err)
}

func (s *Store) UpdateKey(ctx context.Context, id string, fn func(*store.Key) error) (k *store.Key, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		if k, err = scanKey(tx.QueryRow(ctx, `SELECT record, seq FROM keyport_keys WHERE id = $1 FOR UPDATE`, id)); err != nil {
			return err
		}
		before := k.Objects()
		if err := fn(k); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE keyport_keys SET deadline = $2, hsm_object = $3, record = $4 WHERE id = $1`,
			id, nanos(k.Deadline()), nullable(k.HSMObject), store.EncodeKey(k)); err != nil {
			return err
		}
		return indexObjects(ctx, tx, before, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM keyport_keys WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
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
func indexObjects(ctx context.Context, tx pgx.Tx, before []string, k *store.Key) error {
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
func (s *Store) ListKeys(ctx context.Context, offset, limit int) (keys []*store.Key, total int, err error) {
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

func collectKeys(rows pgx.Rows, err error) ([]*store.Key, error) {
	if err != nil {
		return nil, err
	}
	var out []*store.Key
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

func (s *Store) EachKey(ctx context.Context, fn func(*store.Key) bool) error {
	return pages(ctx, s, func(after []any) ([]*store.Key, []any, error) {
		from := int64(-1)
		if after != nil {
			from = after[0].(int64)
		}
		keys, err := collectKeys(s.db.Query(ctx, `SELECT record, seq FROM keyport_keys WHERE seq > $1 ORDER BY seq LIMIT $2`, from, store.Batch))
		if err != nil || len(keys) == 0 {
			return keys, nil, err
		}
		return keys, []any{int64(keys[len(keys)-1].Seq)}, nil
	}, fn)
}

func (s *Store) DueKeys(ctx context.Context, until time.Time, fn func(*store.Key) bool) error {
	return pages(ctx, s, func(after []any) ([]*store.Key, []any, error) {
		var rows pgx.Rows
		var err error
		if after == nil {
			rows, err = s.db.Query(ctx, `SELECT record, seq FROM keyport_keys WHERE deadline IS NOT NULL AND deadline <= $1
				ORDER BY deadline, id LIMIT $2`, until.UnixNano(), store.Batch)
		} else {
			rows, err = s.db.Query(ctx, `SELECT record, seq FROM keyport_keys WHERE deadline IS NOT NULL AND deadline <= $1
				AND (deadline, id) > ($3, $4) ORDER BY deadline, id LIMIT $2`, until.UnixNano(), store.Batch, after[0], after[1])
		}
		keys, err := collectKeys(rows, err)
		if err != nil || len(keys) == 0 {
			return keys, nil, err
		}
		last := keys[len(keys)-1]
		return keys, []any{last.Deadline().UnixNano(), last.ID}, nil
	}, fn)
}

func (s *Store) KeyObjects(ctx context.Context, fn func(object, keyID string) bool) error {
	type ref struct{ object, key string }
	return pages(ctx, s, func(after []any) ([]ref, []any, error) {
		from := ""
		if after != nil {
			from = after[0].(string)
		}
		rows, err := s.db.Query(ctx, `SELECT object, key_id FROM keyport_key_objects WHERE object > $1
			ORDER BY object LIMIT $2`, from, store.Batch)
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
