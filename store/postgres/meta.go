package postgres

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
)

func (s *Store) Meta(ctx context.Context, name string) (v string, err error) {
	err = s.db.QueryRow(ctx, `SELECT value FROM keyport_meta WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, s.fault(err)
}

// InitMeta inserts unless a row is there, then reads in a statement of its
// own: a statement's snapshot predates a racing insert it waited for, so
// one statement cannot both lose the race and see the winner.
func (s *Store) InitMeta(ctx context.Context, name, value string) (string, error) {
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

// TryLease takes the named lease if no process holds it: a session
// advisory lock on a connection of its own, kept until release. If this
// process dies or loses the connection, PostgreSQL releases the lock with it.
func (s *Store) TryLease(ctx context.Context, name string) (release func(), ok bool, err error) {
	if !s.leases.Take(name) {
		return nil, false, nil
	}
	conn, err := pgx.ConnectConfig(ctx, s.db.Config().ConnConfig.Copy())
	if err != nil {
		s.leases.Drop(name)
		return nil, false, s.fault(err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('keyport/lease/' || $1, 0))`, name).Scan(&ok); err != nil || !ok {
		conn.Close(context.Background())
		s.leases.Drop(name)
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
			s.leases.Drop(name)
		})
	}, true, nil
}

// PutMeta sets a setting, or removes it when value is "": for the admin
// command that marks a database restored, never for a live store.
func (s *Store) PutMeta(ctx context.Context, name, value string) error {
	var err error
	if value == "" {
		_, err = s.db.Exec(ctx, `DELETE FROM keyport_meta WHERE name = $1`, name)
	} else {
		_, err = s.db.Exec(ctx, `INSERT INTO keyport_meta VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, name, value)
	}
	return s.fault(err)
}
