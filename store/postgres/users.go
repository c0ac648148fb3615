package postgres

import (
	"context"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) users() tableOf[store.User] { return tableOf[store.User]{s, "keyport_users"} }

func (s *Store) PutUser(ctx context.Context, u *store.User) error {
	return s.users().create(ctx, s.db, u.Name, u)
}

func (s *Store) GetUser(ctx context.Context, name string) (*store.User, error) {
	return s.users().get(ctx, name)
}

func (s *Store) UpdateUser(ctx context.Context, name string, fn func(*store.User) error) (*store.User, error) {
	return s.users().update(ctx, name, func(u *store.User) error {
		if err := fn(u); err != nil {
			return err
		}
		u.Name = name
		return nil
	})
}

func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.users().delete(ctx, name)
}

func (s *Store) ListUsers(ctx context.Context) ([]*store.User, error) { return s.users().list(ctx) }
