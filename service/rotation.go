package service

import (
	"context"
	"time"

	"github.com/keyport-kms/keyport/ids"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/store"
)

// Automatic rotation intervals, as Alibaba Cloud bounds them; Tencent
// Cloud rotates yearly.
const (
	MinRotationInterval     = 7 * 24 * time.Hour
	MaxRotationInterval     = 365 * 24 * time.Hour
	DefaultRotationInterval = 365 * 24 * time.Hour
)

// KeyVersionInfo is one version of a key's material.
type KeyVersionInfo struct {
	KeyID        string
	KeyVersionID string
	Created      time.Time
	Primary      bool
}

func rotationInterval(on bool, d time.Duration) (time.Duration, error) {
	switch {
	case d == 0 && on:
		return DefaultRotationInterval, nil
	case d == 0:
		return 0, nil
	case d < MinRotationInterval || d > MaxRotationInterval:
		return 0, errorf(KindInvalidParameter, "RotationInterval must be from 7 to 365 days")
	}
	return d, nil
}

// SetRotationPolicy turns automatic rotation on or off; interval zero
// keeps the key's interval (or takes the default of a year). In the
// states the request's cloud allows (Alibaba Cloud: Enabled only).
func (s *Service) SetRotationPolicy(ctx context.Context, keyID string, on bool, interval time.Duration) error {
	named := Permission{CAM: "kms:DisableKeyRotation"}
	if on {
		named.CAM = "kms:EnableKeyRotation"
	}
	k, err := s.getKey(as(ctx, named), keyID)
	if err != nil {
		return err
	}
	if Origin(k.Origin) != OriginKMS {
		return errorf(KindRotationUnsupported, "keys with imported material cannot rotate")
	}
	if interval == 0 {
		interval = k.RotationInterval
	}
	if interval, err = rotationInterval(on, interval); err != nil {
		return err
	}
	return s.transition(ctx, k.ID, "update rotation policy", s.guarded(ctx, OpRotationPolicy, func(k *store.Key) error {
		k.AutoRotate, k.RotationInterval = on, interval
		return nil
	}))
}

// RotateKey makes a new primary version of an Enabled key's material, in
// the token for an HSM-level key, sealed otherwise. Encrypt then uses it;
// the old versions stay to decrypt what they encrypted.
func (s *Service) RotateKey(ctx context.Context, keyID string) (*KeyVersionInfo, error) {
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if Origin(k.Origin) != OriginKMS {
		return nil, errorf(KindRotationUnsupported, "keys with imported material cannot rotate")
	}
	if err := s.allow(ctx, OpRotate, k); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if err := s.mayAddVersion(k, now); err != nil {
		return nil, err
	}
	next := &store.Key{ID: k.ID, VersionID: ids.NewUUID(), Spec: k.Spec, Protection: k.Protection}
	if err := s.generateMaterial(ctx, next); err != nil {
		return nil, err
	}
	_, err = s.st.UpdateKey(ctx, k.ID, func(k *store.Key) error {
		if s.deleted(k) {
			return errorf(KindNotFound, "key %s not found", k.ID)
		}
		if err := s.allow(ctx, OpRotate, k); err != nil {
			return err
		}
		if err := s.mayAddVersion(k, now); err != nil {
			return err // another rotation got there first
		}
		k.Versions = append(k.Versions, store.KeyVersion{ID: k.VersionID, Created: k.PrimarySince(), SealedMat: k.SealedMat, HSMObject: k.HSMObject})
		k.VersionID, k.SealedMat, k.HSMObject, k.VersionCreated, k.LastRotation = next.VersionID, next.SealedMat, next.HSMObject, now, now
		return nil
	})
	if err != nil {
		s.destroyUnrecorded(ctx, next.HSMObject, err)
		return nil, storeError("rotate key", err)
	}
	s.log.Info("key rotated", "key_id", k.ID, "key_version_id", next.VersionID)
	wire.UseVersion(ctx, k.ID, next.VersionID)
	return &KeyVersionInfo{KeyID: k.ID, KeyVersionID: next.VersionID, Created: now, Primary: true}, nil
}

// mayAddVersion applies the bounds on versions, to manual and automatic
// rotation alike: at most store.MaxKeyVersions, and at least
// MinVersionInterval after the last version made (a key's first rotation
// may come at once).
func (s *Service) mayAddVersion(k *store.Key, now time.Time) error {
	if len(k.Versions)+1 >= store.MaxKeyVersions {
		return errorf(KindVersionLimit, "the key has %d versions, as many as a key may have", store.MaxKeyVersions)
	}
	if last := k.LastRotation; !last.IsZero() && now.Before(last.Add(s.opt.MinVersionInterval)) {
		return errorf(KindVersionTooSoon, "the key's last version was made %s; the next may be made from %s (at least %s apart)",
			last.UTC().Format(time.RFC3339), last.Add(s.opt.MinVersionInterval).UTC().Format(time.RFC3339), s.opt.MinVersionInterval)
	}
	return nil
}

// ListKeyVersions returns a key's versions, oldest first.
func (s *Service) ListKeyVersions(ctx context.Context, keyID string) ([]KeyVersionInfo, error) {
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	out := make([]KeyVersionInfo, 0, len(k.Versions)+1)
	for _, v := range k.Versions {
		out = append(out, KeyVersionInfo{KeyID: k.ID, KeyVersionID: v.ID, Created: v.Created})
	}
	return append(out, KeyVersionInfo{KeyID: k.ID, KeyVersionID: k.VersionID, Created: k.PrimarySince(), Primary: true}), nil
}

// DescribeKeyVersion returns one version of a key.
func (s *Service) DescribeKeyVersion(ctx context.Context, keyID, versionID string) (*KeyVersionInfo, error) {
	versions, err := s.ListKeyVersions(ctx, keyID)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if v.KeyVersionID == versionID {
			return &v, nil
		}
	}
	return nil, errorf(KindVersionNotFound, "key %s has no version %s", keyID, versionID)
}

// version returns the key as it was at versionID: its material and id,
// for decrypting what that version encrypted.
func version(k *store.Key, versionID string) (*store.Key, bool) {
	if versionID == k.VersionID {
		return k, true
	}
	for _, v := range k.Versions {
		if v.ID == versionID {
			old := *k
			old.VersionID, old.SealedMat, old.HSMObject = v.ID, v.SealedMat, v.HSMObject
			return &old, true
		}
	}
	return nil, false
}

// rotateDue rotates the keys whose automatic rotation is due (the
// collector found them through their deadline). A key not Enabled waits.
func (s *Service) rotateDue(ctx context.Context, due []*store.Key) int {
	n := 0
	for _, k := range due {
		if s.allow(ctx, OpRotate, k) != nil || s.mayAddVersion(k, s.now()) != nil {
			continue
		}
		if _, err := s.RotateKey(ctx, k.ID); err != nil {
			s.log.Warn("automatic rotation", "key_id", k.ID, "err", err)
			continue
		}
		n++
	}
	return n
}
