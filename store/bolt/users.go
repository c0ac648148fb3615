package bolt

import (
	"context"

	"github.com/keyport-kms/keyport/store"
)

func (s *Store) users() bucketOf[store.User] { return bucketOf[store.User]{s, bUsers} }

func (s *Store) PutUser(_ context.Context, u *store.User) error { return s.users().create(u.Name, u) }

func (s *Store) GetUser(_ context.Context, name string) (*store.User, error) {
	return s.users().get(name)
}

func (s *Store) UpdateUser(_ context.Context, name string, fn func(*store.User) error) (*store.User, error) {
	return s.users().update(name, func(u *store.User) error {
		if err := fn(u); err != nil {
			return err
		}
		u.Name = name
		return nil
	})
}

func (s *Store) DeleteUser(_ context.Context, name string) error { return s.users().delete(name) }

func (s *Store) ListUsers(_ context.Context) ([]*store.User, error) { return s.users().list() }
