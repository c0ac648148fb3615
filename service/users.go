package service

import (
	"context"
	"errors"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/store"
)

// User is a principal of the account as the admin CLI shows it.
type User struct {
	Name       string
	Created    string   // RFC 3339
	Policies   []string // names, sorted
	AccessKeys []string // ids, sorted
}

// The names RAM allows: a user 1–64 letters, digits, '.', '_' and '-'; a
// policy 1–128 letters, digits and '-'. A user has at most MaxUserPolicies.
var (
	userName   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	policyName = regexp.MustCompile(`^[A-Za-z0-9-]{1,128}$`)
)

// MaxUserPolicies bounds a user's policies, and so the statements one
// decision walks.
const MaxUserPolicies = 20

// CreateUser makes a user with no rights.
func (s *Service) CreateUser(ctx context.Context, name string) error {
	if !userName.MatchString(name) {
		return errorf(KindInvalidParameter, "user name %q: 1 to 64 letters, digits, '.', '_' or '-'", name)
	}
	err := s.st.PutUser(ctx, &store.User{Name: name, Created: s.now().UTC()})
	if errors.Is(err, store.ErrExists) {
		return errorf(KindUserExists, "user %s exists", name)
	}
	return storeError("create user", err)
}

// ListUsers lists the users with their policies' names and access keys.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	users, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, storeError("list users", err)
	}
	keys, err := s.userKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(users))
	for _, u := range users {
		out = append(out, User{Name: u.Name, Created: u.Created.Format(time.RFC3339),
			Policies: slices.Sorted(maps.Keys(u.Policies)), AccessKeys: keys[u.Name]})
	}
	return out, nil
}

// userKeys maps each user to its access keys' ids, sorted.
func (s *Service) userKeys(ctx context.Context) (map[string][]string, error) {
	aks, err := s.accessKeys().ListAccessKeys(ctx)
	if err != nil {
		return nil, storeError("list access keys", err)
	}
	out := map[string][]string{}
	for _, a := range aks {
		if a.User != "" {
			out[a.User] = append(out[a.User], a.ID)
		}
	}
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out, nil
}

// DeleteUser removes a user. While it has access keys it is refused,
// unless force, which deletes them first.
func (s *Service) DeleteUser(ctx context.Context, name string, force bool) error {
	if _, err := s.st.GetUser(ctx, name); err != nil {
		return s.userError(name, "delete user", err)
	}
	keys, err := s.userKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys[name]) > 0 && !force {
		return errorf(KindUserInUse, "user %s has %d access keys: delete them first, or use --force", name, len(keys[name]))
	}
	for _, id := range keys[name] {
		if err := s.DeleteAccessKey(ctx, id); err != nil && !errors.Is(err, KindUnknownAccessKey) {
			return err
		}
	}
	defer s.grants.forget()
	return s.userError(name, "delete user", s.st.DeleteUser(ctx, name))
}

// PutUserPolicy gives a user a named policy (RAM or CAM), replacing one of
// that name. A document that does not parse is refused with its line and
// field; it is kept as written.
func (s *Service) PutUserPolicy(ctx context.Context, user, name string, document []byte) error {
	defer s.grants.forget()
	if !policyName.MatchString(name) {
		return errorf(KindInvalidParameter, "policy name %q: 1 to 128 letters, digits or '-'", name)
	}
	if _, err := policy.Parse(document, policy.MaxSize); err != nil {
		return wrapErr(KindInvalidParameter, err, "%s", err.Error())
	}
	_, err := s.st.UpdateUser(ctx, user, func(u *store.User) error {
		if _, ok := u.Policies[name]; !ok && len(u.Policies) >= MaxUserPolicies {
			return errorf(KindInvalidParameter, "user %s has %d policies, the most a user may have", user, MaxUserPolicies)
		}
		if u.Policies == nil {
			u.Policies = map[string]string{}
		}
		u.Policies[name] = string(document)
		u.Updated = s.now().UTC()
		return nil
	})
	return s.userError(user, "put user policy", err)
}

// UserPolicy returns one of a user's policies as written.
func (s *Service) UserPolicy(ctx context.Context, user, name string) (string, error) {
	u, err := s.st.GetUser(ctx, user)
	if err != nil {
		return "", s.userError(user, "read user", err)
	}
	doc, ok := u.Policies[name]
	if !ok {
		return "", errorf(KindInvalidParameter, "user %s has no policy %q", user, name)
	}
	return doc, nil
}

// DeleteUserPolicy takes a policy from a user.
func (s *Service) DeleteUserPolicy(ctx context.Context, user, name string) error {
	defer s.grants.forget()
	_, err := s.st.UpdateUser(ctx, user, func(u *store.User) error {
		if _, ok := u.Policies[name]; !ok {
			return errorf(KindInvalidParameter, "user %s has no policy %q", user, name)
		}
		delete(u.Policies, name)
		u.Updated = s.now().UTC()
		return nil
	})
	return s.userError(user, "delete user policy", err)
}

func (s *Service) userError(name, op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(KindUserNotFound, "user %s not found", name)
	}
	return storeError(op, err)
}

// CreateUserAccessKey makes a credential that belongs to user: it may do
// what the user's policies allow (once they are enforced), and nothing
// else.
func (s *Service) CreateUserAccessKey(ctx context.Context, user string) (*NewAccessKey, error) {
	if _, err := s.st.GetUser(ctx, user); err != nil {
		return nil, s.userError(user, "create access key", err)
	}
	return s.createAccessKey(ctx, user)
}
