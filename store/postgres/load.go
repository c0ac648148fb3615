package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyport-kms/keyport/store"
)

// LoadFrom copies every record of src (keys with their sealed material and
// fingerprints, pooled and issued wrapping keys, access keys, users, and the
// deployment's settings) into this database, which must hold no records,
// in one transaction: a copy that fails leaves the database as it was.
// progress is called with the number of records copied so far.
func (s *Store) LoadFrom(ctx context.Context, src store.Store, progress func(done int)) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var busy bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM keyport_keys) OR EXISTS (SELECT 1 FROM keyport_wrapping)
			OR EXISTS (SELECT 1 FROM keyport_access_keys) OR EXISTS (SELECT 1 FROM keyport_aliases)
			OR EXISTS (SELECT 1 FROM keyport_users)`).Scan(&busy); err != nil {
			return err
		}
		if busy {
			return fmt.Errorf("database %s already holds a Keyport store with records: give an empty database", s.target)
		}
		for _, name := range store.CopiedMeta {
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
		err := src.EachKey(ctx, func(k *store.Key) bool {
			_, failed = tx.Exec(ctx, `INSERT INTO keyport_keys (id, seq, deadline, hsm_object, record)
				VALUES ($1, nextval('keyport_key_seq'), $2, $3, $4)`, k.ID, nanos(k.Deadline()), nullable(k.HSMObject), store.EncodeKey(k))
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
		err = src.EachWrapping(ctx, func(w *store.WrappingKey) bool {
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
			if err := s.accessKeys().create(ctx, tx, a.ID, a); err != nil {
				return err
			}
			step()
		}
		users, err := src.ListUsers(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := s.users().create(ctx, tx, u.Name, u); err != nil {
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
