package service

import (
	"context"
	"maps"
	"strings"

	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/store"
)

// Limits on what a key's owner may attach to it.
const (
	MaxTags          = 20
	MaxTagKeyBytes   = 128
	MaxTagValueBytes = 256
	MaxPolicyBytes   = policy.KeyPolicyMaxSize
)

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, keyID, description string) error {
	if len(description) > MaxDescriptionSize {
		return errorf(KindInvalidParameter, "Description is longer than %d bytes", MaxDescriptionSize)
	}
	return s.transition(ctx, keyID, "update key description", s.guarded(ctx, OpUpdateDescription, func(k *store.Key) error {
		k.Description = description
		return nil
	}))
}

// SetDeletionProtection turns deletion protection on or off; while on,
// ScheduleKeyDeletion is refused. note says why, as the owner wrote it.
func (s *Service) SetDeletionProtection(ctx context.Context, keyID string, on bool, note string) error {
	if len(note) > MaxDescriptionSize {
		return errorf(KindInvalidParameter, "DeletionProtectionDescription is longer than %d bytes", MaxDescriptionSize)
	}
	return s.change(ctx, keyID, "set deletion protection", func(k *store.Key) error {
		k.DeletionProtection, k.ProtectionNote = on, note
		if !on {
			k.ProtectionNote = ""
		}
		return nil
	})
}

// SetKeyPolicy replaces a key's policy: a RAM document with principals,
// enforced beside the users' own policies (authorize.go). One that does not
// parse is refused with its line and field.
func (s *Service) SetKeyPolicy(ctx context.Context, keyID, doc string) error {
	if err := checkKeyPolicy(doc); err != nil {
		return err
	}
	return s.change(ctx, keyID, "set key policy", func(k *store.Key) error {
		k.Policy = doc
		return nil
	})
}

func checkKeyPolicy(doc string) error {
	if _, err := policy.Parse([]byte(doc), MaxPolicyBytes); err != nil {
		return wrapErr(KindInvalidParameter, err, "Policy: %s", err.Error())
	}
	return nil
}

// KeyPolicy returns the stored policy, or "" for the default one
// (DefaultKeyPolicy), which the dialect shows with its account.
func (s *Service) KeyPolicy(ctx context.Context, keyID string) (string, error) {
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return "", err
	}
	return k.Policy, nil
}

// DefaultKeyPolicy is the key policy of a key that was given none, as
// Alibaba Cloud documents it: the account may do everything. It grants no
// user anything by itself; users are left to their own policies.
func DefaultKeyPolicy(account string) string {
	return `{"Version":"1","Statement":[{"Sid":"kms default key policy","Effect":"Allow","Principal":{"RAM":["acs:ram::` +
		account + `:*"]},"Action":["kms:*"],"Resource":["*"]}]}`
}

// UpdateTags sets the tags in set (replacing values of existing ones) and
// removes those named in remove, at most MaxTags a key.
func (s *Service) UpdateTags(ctx context.Context, keyID string, set map[string]string, remove []string) error {
	return s.transition(ctx, keyID, "tag key", s.guarded(ctx, OpTag, func(k *store.Key) error { return checkTags(set, remove, k) }))
}

// checkTags applies set and remove to k's tags if the result keeps the
// rules, and leaves k as it was if not.
func checkTags(set map[string]string, remove []string, k *store.Key) error {
	for name, value := range set {
		switch {
		case name == "" || len(name) > MaxTagKeyBytes:
			return errorf(KindInvalidParameter, "a tag key must be 1 to %d bytes", MaxTagKeyBytes)
		case len(value) > MaxTagValueBytes:
			return errorf(KindInvalidParameter, "a tag value must be at most %d bytes", MaxTagValueBytes)
		case strings.HasPrefix(strings.ToLower(name), "acs:") || strings.HasPrefix(strings.ToLower(name), "qcloud:"):
			return errorf(KindInvalidParameter, "tag key %q uses a reserved prefix", name)
		}
	}
	tags := maps.Clone(k.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	for _, name := range remove {
		delete(tags, name)
	}
	maps.Copy(tags, set)
	if len(tags) > MaxTags {
		return errorf(KindInvalidParameter, "a key may have at most %d tags", MaxTags)
	}
	k.Tags = tags
	return nil
}

// ArchiveKey moves an Enabled key to Archived: it decrypts but no longer
// encrypts. Only an Enabled key is archived (Tencent Cloud's rule): a
// Disabled key stays Disabled, and archiving never makes it decrypt again.
func (s *Service) ArchiveKey(ctx context.Context, keyID string) error {
	return s.transition(ctx, keyID, "archive key", s.guarded(ctx, OpArchive, func(k *store.Key) error {
		k.State = string(StateArchived)
		return nil
	}))
}

// CancelKeyArchive moves an Archived key back to Enabled.
func (s *Service) CancelKeyArchive(ctx context.Context, keyID string) error {
	return s.transition(ctx, keyID, "cancel key archive", s.guarded(ctx, OpCancelArchive, func(k *store.Key) error {
		k.State = string(StateEnabled)
		return nil
	}))
}

// change applies fn to a key that still exists, in any state.
func (s *Service) change(ctx context.Context, keyID, op string, fn func(k *store.Key) error) error {
	return s.transition(ctx, keyID, op, func(k *store.Key, _ KeyState) error { return fn(k) })
}
