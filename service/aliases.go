package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/store"
)

// AliasPrefix starts every Alibaba Cloud alias name; one may stand wherever
// a KeyId does.
const AliasPrefix = "alias/"

// AliasInfo is one alias as the APIs show it.
type AliasInfo struct {
	Name    string
	KeyID   string
	Created time.Time
	Updated time.Time
}

// validAliasName: alias/ then 1 to 249 letters, digits, '_', '-', '/' or
// ':', not alias/acs (reserved by Alibaba Cloud for its own keys).
func validAliasName(name string) bool {
	rest, ok := strings.CutPrefix(name, AliasPrefix)
	if !ok || len(name) > 255 || rest == "" || strings.HasPrefix(strings.ToLower(rest), "acs") {
		return false
	}
	return allIn(rest, "_-/:")
}

// validDisplayAlias is Tencent Cloud's rule: 1 to 60 letters, digits, '_'
// and '-', starting with a letter or digit, and not KMS- (reserved).
func validDisplayAlias(a string) bool {
	if a == "" || len(a) > 60 || a[0] == '_' || a[0] == '-' || strings.HasPrefix(a, "KMS-") {
		return false
	}
	return allIn(a, "_-")
}

func allIn(s, extra string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// resolveAlias turns alias/NAME into the key id it names; anything else is
// returned as it is.
func (s *Service) resolveAlias(ctx context.Context, keyID string) (string, error) {
	if !strings.HasPrefix(keyID, AliasPrefix) {
		return keyID, nil
	}
	a, err := s.st.GetAlias(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) {
		return "", errorf(KindAliasNotFound, "alias %s not found", keyID)
	}
	if err != nil {
		return "", storeError("get alias", err)
	}
	return a.KeyID, nil
}

// permitAliasAndKey checks the caller's action on an alias and on the key
// it names now.
func (s *Service) permitAliasAndKey(ctx context.Context, name string) error {
	if !restricted(ctx) {
		return nil // the operator's, or the root's: allowed, and the audit log names only the keys acted on
	}
	if err := s.permitAlias(ctx, name); err != nil {
		return err
	}
	id, err := s.resolveAlias(ctx, name)
	if err != nil {
		return err
	}
	if _, err = s.getKey(ctx, id); KindOf(err) == KindNotFound {
		return nil // a key gone past its deletion date: the alias alone counts
	}
	return err
}

// claimAlias records name for keyID unless it is taken. A name is taken
// while its key exists, pending deletion included (that key may still be
// cancelled back, under its name); a key past its deletion date, which the
// collector has not reached yet, holds its names no longer.
func (s *Service) claimAlias(ctx context.Context, name, keyID string) error {
	for try := 0; ; try++ {
		err := s.st.PutAlias(ctx, &store.Alias{Name: name, KeyID: keyID, Created: s.now().UTC()})
		if !errors.Is(err, store.ErrExists) {
			return storeError("create alias", err)
		}
		if try == 0 && s.aliasOfDeletedKey(ctx, name) {
			// Delete the stale name and put again: PutAlias decides between
			// two claimers, so only one gets it.
			if err := s.st.DeleteAlias(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return storeError("release alias", err)
			}
			continue
		}
		return errorf(KindAliasExists, "the alias %s is taken", strings.TrimPrefix(name, store.TencentAliasPrefix))
	}
}

// aliasOfDeletedKey reports whether name points at a key that is gone.
func (s *Service) aliasOfDeletedKey(ctx context.Context, name string) bool {
	a, err := s.st.GetAlias(ctx, name)
	if err != nil {
		return false
	}
	k, err := s.st.GetPrimary(ctx, a.KeyID)
	return errors.Is(err, store.ErrNotFound) || (err == nil && s.deleted(k))
}

// releaseAlias gives up the display alias of a key that was not created.
func (s *Service) releaseAlias(ctx context.Context, k *store.Key) {
	if k.Alias == "" {
		return
	}
	if err := s.st.DeleteAlias(ctx, store.TencentAliasPrefix+k.Alias); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("release alias of a key not created", "key_id", k.ID, "err", err)
	}
}

// CreateAlias names a key; a key may have several names, a name one key.
func (s *Service) CreateAlias(ctx context.Context, name, keyID string) error {
	if !validAliasName(name) {
		return errorf(KindInvalidAlias, "AliasName must be alias/ followed by 1 to 249 letters, digits, _, -, / or :, and not alias/acs")
	}
	if strings.HasPrefix(keyID, AliasPrefix) {
		return errorf(KindInvalidParameter, "KeyId must be a key id, not an alias")
	}
	if err := s.permitAlias(ctx, name); err != nil {
		return err
	}
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, OpAliasTarget, k); err != nil {
		return err
	}
	return s.claimAlias(ctx, name, keyID)
}

// UpdateAlias points an existing alias at another key.
func (s *Service) UpdateAlias(ctx context.Context, name, keyID string) error {
	if !validAliasName(name) {
		return errorf(KindInvalidAlias, "AliasName must start with alias/")
	}
	// The alias, the key it names now and the key it is to name are each
	// checked: an alias is never pointed at a key its caller may not use,
	// nor taken from one.
	if err := s.permitAliasAndKey(ctx, name); err != nil {
		return err
	}
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return err
	}
	if err := s.allow(ctx, OpAliasTarget, k); err != nil {
		return err // only the target's state counts, as Alibaba Cloud documents
	}
	err = s.st.SetAlias(ctx, name, k.ID, s.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return errorf(KindAliasNotFound, "alias %s not found", name)
	}
	return storeError("update alias", err)
}

// DeleteAlias removes an alias; its key stays.
func (s *Service) DeleteAlias(ctx context.Context, name string) error {
	if !strings.HasPrefix(name, AliasPrefix) {
		return errorf(KindAliasNotFound, "alias %s not found", name)
	}
	if err := s.permitAliasAndKey(ctx, name); err != nil {
		return err
	}
	err := s.st.DeleteAlias(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(KindAliasNotFound, "alias %s not found", name)
	}
	return storeError("delete alias", err)
}

// ListAliases returns the aliases (of one key, if keyID is set) in name
// order; the dialect pages them.
func (s *Service) ListAliases(ctx context.Context, keyID string) ([]AliasInfo, error) {
	if keyID != "" {
		k, err := s.getKey(ctx, keyID)
		if err != nil {
			return nil, err
		}
		keyID = k.ID
	} else if err := s.permit(ctx, policy.Resource{Kind: "alias"}, nil); err != nil {
		return nil, err // the alias container
	}
	all, err := s.st.ListAliases(ctx, AliasPrefix, keyID)
	if err != nil {
		return nil, storeError("list aliases", err)
	}
	out := make([]AliasInfo, 0, len(all))
	for _, a := range all {
		out = append(out, AliasInfo{Name: a.Name, KeyID: a.KeyID, Created: a.Created, Updated: a.Updated})
	}
	return out, nil
}

// SetDisplayAlias renames a key's one display alias (Tencent Cloud's
// UpdateAlias), keeping display aliases unique.
func (s *Service) SetDisplayAlias(ctx context.Context, keyID, alias string) error {
	if !validDisplayAlias(alias) {
		return errorf(KindInvalidAlias, "Alias must be 1 to 60 letters, digits, _ and -, and not start with KMS-")
	}
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return err
	}
	if k.Alias == alias {
		return nil
	}
	if err := s.claimAlias(ctx, store.TencentAliasPrefix+alias, k.ID); err != nil {
		return err
	}
	var old string
	if err := s.change(ctx, k.ID, "update alias", func(k *store.Key) error {
		old, k.Alias = k.Alias, alias
		return nil
	}); err != nil {
		_ = s.st.DeleteAlias(ctx, store.TencentAliasPrefix+alias)
		return err
	}
	if old != "" {
		if err := s.st.DeleteAlias(ctx, store.TencentAliasPrefix+old); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("release the old display alias", "key_id", k.ID, "err", err)
		}
	}
	return nil
}
