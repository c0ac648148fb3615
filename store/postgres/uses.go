package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

// RecordUse records u unless a live use of its value is recorded: the
// primary key makes the check and the insert one atomic step across
// replicas, and an expired row is taken over in the same statement.
func (s *Store) RecordUse(ctx context.Context, u store.Use, now time.Time) (fresh bool, err error) {
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
func (s *Store) ForgetUses(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM keyport_uses WHERE expires <= $1`, now.UnixNano())
	if err != nil {
		return 0, s.fault(err)
	}
	return int(tag.RowsAffected()), nil
}
