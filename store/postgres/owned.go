package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

func (s *Store) OwnObject(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO keyport_owned_objects (object, since) VALUES ($1, $2) ON CONFLICT (object) DO NOTHING`, id, at.UnixNano())
	return s.fault(err)
}

func (s *Store) DisownObject(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM keyport_owned_objects WHERE object = $1`, id)
	return s.fault(err)
}

func (s *Store) EachOwned(ctx context.Context, fn func(id string, since time.Time) bool) error {
	type entry struct {
		id    string
		since int64
	}
	rows, err := s.db.Query(ctx, `SELECT object, since FROM keyport_owned_objects ORDER BY object`)
	if err != nil {
		return s.fault(err)
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (e entry, err error) { return e, r.Scan(&e.id, &e.since) })
	if err != nil {
		return s.fault(err)
	}
	for _, e := range all {
		if !fn(e.id, time.Unix(0, e.since)) {
			return nil
		}
	}
	return nil
}

// AppendAdminLog keeps one admin action's record (a JSON object) in the
// database, where the operators of every replica see it.
func (s *Store) AppendAdminLog(ctx context.Context, record []byte) error {
	_, err := s.db.Exec(ctx, `INSERT INTO keyport_admin_log (record) VALUES ($1)`, record)
	return s.fault(err)
}

// EachAdminRecord walks the admin log, oldest first.
func (s *Store) EachAdminRecord(ctx context.Context, fn func(record []byte) bool) error {
	rows, err := s.db.Query(ctx, `SELECT record::text FROM keyport_admin_log ORDER BY seq`)
	if err != nil {
		return s.fault(err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return s.fault(err)
	}
	for _, r := range all {
		if !fn([]byte(r)) {
			return nil
		}
	}
	return nil
}
