package service

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// AccessKey is an API credential as the admin CLI shows it: never the secret.
type AccessKey struct {
	ID       string
	Created  time.Time
	Disabled bool
	User     string `json:",omitempty"` // "" for the account root
}

// NewAccessKey is a credential just made: the only time its secret is shown.
type NewAccessKey struct {
	AccessKeyID     string
	AccessKeySecret string
}

const (
	accessKeyIDPrefix = "KPAK"
	accessKeyIDLen    = 24 // with the prefix
	accessSecretLen   = 30
	alphabetUpper     = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" // 32 and 64 symbols: a byte maps without bias
	alphabetSecret    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)] // both alphabets divide 256: no bias
	}
	return string(b)
}

func accessKeyAAD(id string) []byte { return []byte("keyport/access-key/v1\x00" + id) }

// CreateAccessKey makes an API credential, usable as an Alibaba Cloud
// AccessKeyId/AccessKeySecret and as a Tencent Cloud SecretId/SecretKey.
// The secret is stored sealed by the HSM.
func (s *Service) CreateAccessKey(ctx context.Context) (*NewAccessKey, error) {
	return s.createAccessKey(ctx, "")
}

// createAccessKey makes a credential of user ("" for the account root).
func (s *Service) createAccessKey(ctx context.Context, user string) (*NewAccessKey, error) {
	id := accessKeyIDPrefix + randomString(accessKeyIDLen-len(accessKeyIDPrefix), alphabetUpper)
	secret := randomString(accessSecretLen, alphabetSecret)
	sealed, err := s.tok.Seal(ctx, s.master, []byte(secret), accessKeyAAD(id))
	if err != nil {
		return nil, hsmError("seal access key secret", err)
	}
	if err := s.accessKeys().PutAccessKey(ctx, &store.AccessKey{ID: id, User: user, SealedSecret: sealed, Created: s.now().UTC()}); err != nil {
		return nil, storeError("create access key", err)
	}
	s.log.Info("access key created", "access_key_id", id, "user", user)
	return &NewAccessKey{AccessKeyID: id, AccessKeySecret: secret}, nil
}

// ListAccessKeys lists credentials without their secrets.
func (s *Service) ListAccessKeys(ctx context.Context) ([]AccessKey, error) {
	keys, err := s.accessKeys().ListAccessKeys(ctx)
	if err != nil {
		return nil, storeError("list access keys", err)
	}
	out := make([]AccessKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, AccessKey{ID: k.ID, Created: k.Created, Disabled: k.Disabled, User: k.User})
	}
	return out, nil
}

// SetAccessKeyDisabled disables or re-enables a credential.
func (s *Service) SetAccessKeyDisabled(ctx context.Context, id string, disabled bool) error {
	defer s.secrets.drop(id)
	defer s.grants.forget()
	_, err := s.accessKeys().UpdateAccessKey(ctx, id, func(a *store.AccessKey) error { a.Disabled = disabled; return nil })
	if errors.Is(err, store.ErrNotFound) {
		return errorf(KindUnknownAccessKey, "access key %s not found", id)
	}
	if err != nil {
		return storeError("update access key", err)
	}
	return nil
}

// DeleteAccessKey removes a credential for good.
func (s *Service) DeleteAccessKey(ctx context.Context, id string) error {
	defer s.secrets.drop(id)
	defer s.grants.forget()
	err := s.accessKeys().DeleteAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(KindUnknownAccessKey, "access key %s not found", id)
	}
	if err != nil {
		return storeError("delete access key", err)
	}
	return nil
}

// AccessKeySecret returns the secret of an enabled credential, for checking
// one request's signature; the caller wipes it. Secrets come from a cache
// with a short TTL (Options.SecretCacheTTL), so a signed request costs no
// HSM call to authenticate.
func (s *Service) AccessKeySecret(ctx context.Context, id string) ([]byte, error) {
	if id == "" || len(id) > 128 {
		return nil, errorf(KindUnknownAccessKey, "access key not found")
	}
	return s.secrets.get(ctx, id, func() ([]byte, error) { return s.unsealAccessKey(ctx, id) })
}

// unsealAccessKey reads a credential and opens its secret in the HSM.
func (s *Service) unsealAccessKey(ctx context.Context, id string) ([]byte, error) {
	a, err := s.accessKeys().GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(KindUnknownAccessKey, "access key %s not found", id)
	}
	if err != nil {
		return nil, storeError("get access key", err)
	}
	if a.Disabled {
		return nil, errorf(KindAccessKeyDisabled, "access key %s is disabled", id)
	}
	secret, err := s.tok.Open(ctx, s.master, a.SealedSecret, accessKeyAAD(id))
	if errors.Is(err, hsm.ErrBadCiphertext) {
		return nil, wrapErr(KindInternal, err, "sealed secret of access key %s does not open", id)
	}
	if err != nil {
		return nil, hsmError("open access key secret", err)
	}
	return secret, nil
}

// accessKeys is the one view of the store the credentials (and the secret
// cache's loader) use.
func (s *Service) accessKeys() store.AccessKeys { return s.st }
