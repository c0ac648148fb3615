package service

import (
	"context"
	"crypto/rand"
	"errors"
	"maps"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/ids"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/store"
)

// CreateKey makes a CMK. An EXTERNAL key starts in PendingImport; any
// other gets material now: in the token for an HSM-level AES key, sealed
// by the master key otherwise.
func (s *Service) CreateKey(ctx context.Context, req CreateKeyRequest) (*KeyMetadata, error) {
	if err := s.Authorize(ctx); err != nil {
		return nil, err
	}
	if req.Spec == "" {
		req.Spec = SpecAES256
	}
	if req.Usage == "" {
		req.Usage = UsageEncryptDecrypt
	}
	if req.Origin == "" {
		req.Origin = OriginKMS
	}
	if req.Protection == "" {
		req.Protection = ProtectionSoftware
	}
	asymmetric := req.Spec.Asymmetric()
	switch {
	case !asymmetric && req.Spec.MaterialSize() == 0:
		return nil, errorf(KindInvalidParameter, "KeySpec %q is not supported; use Aliyun_AES_256, Aliyun_SM4, RSA_2048, RSA_3072, RSA_4096, EC_P256, EC_P256K or EC_SM2", req.Spec)
	case !asymmetric && req.Usage != UsageEncryptDecrypt:
		return nil, errorf(KindInvalidParameter, "KeyUsage %q is not supported with KeySpec %s; use ENCRYPT/DECRYPT", req.Usage, req.Spec)
	case req.Origin != OriginKMS && req.Origin != OriginExternal:
		return nil, errorf(KindInvalidParameter, "Origin %q is not supported; use Aliyun_KMS or EXTERNAL", req.Origin)
	case req.Protection != ProtectionSoftware && req.Protection != ProtectionHSM:
		return nil, errorf(KindInvalidParameter, "ProtectionLevel %q is not supported; use SOFTWARE or HSM", req.Protection)
	case len(req.Description) > MaxDescriptionSize:
		return nil, errorf(KindInvalidParameter, "Description is longer than %d bytes", MaxDescriptionSize)
	case req.Alias != "" && !validDisplayAlias(req.Alias):
		return nil, errorf(KindInvalidAlias, "Alias must be 1 to 60 letters, digits, _ and -, and not start with KMS-")
	case req.AutoRotate && req.Origin == OriginExternal:
		return nil, errorf(KindRotationUnsupported, "keys with imported material cannot rotate automatically")
	}
	if asymmetric {
		if err := s.checkAsymmetric(req); err != nil {
			return nil, err
		}
	}
	if req.Policy != "" {
		if err := checkKeyPolicy(req.Policy); err != nil {
			return nil, err
		}
	}
	interval, err := rotationInterval(req.AutoRotate, req.RotationInterval)
	if err != nil {
		return nil, err
	}
	k := &store.Key{
		ID: ids.NewUUID(), VersionID: ids.NewUUID(),
		Spec: string(req.Spec), Usage: string(req.Usage), Origin: string(req.Origin), Protection: string(req.Protection),
		Description: req.Description, Alias: req.Alias, Created: s.now().UTC(), State: string(StatePendingImport),
		HSMCluster: req.HSMCluster, AutoRotate: req.AutoRotate, RotationInterval: interval, Policy: req.Policy,
	}
	if len(req.Tags) > 0 {
		// Checked as UpdateTags checks them, on a key not yet stored.
		if err := checkTags(req.Tags, nil, k); err != nil {
			return nil, err
		}
	}
	if req.Alias != "" {
		if err := s.claimAlias(ctx, store.TencentAliasPrefix+req.Alias, k.ID); err != nil {
			return nil, err
		}
	}
	if req.Origin == OriginKMS {
		generate := s.generateMaterial
		if asymmetric {
			generate = s.generateKeyPair
		}
		if err := generate(ctx, k); err != nil {
			s.releaseAlias(ctx, k)
			return nil, err
		}
		k.State = string(StateEnabled)
	}
	if err := s.st.CreateKey(ctx, k); err != nil {
		s.destroyUnrecorded(ctx, k.HSMObject, err)
		s.releaseAlias(ctx, k)
		return nil, storeError("create key", err)
	}
	s.log.Info("key created", "key_id", k.ID, "spec", k.Spec, "origin", k.Origin, "protection", k.Protection)
	wire.TouchKey(ctx, wire.KeyUse{KeyID: k.ID, Version: k.VersionID})
	return s.metadata(k), nil
}

// generateMaterial gives a Keyport-origin key its material.
func (s *Service) generateMaterial(ctx context.Context, k *store.Key) error {
	if inToken(k) {
		// One object per version: the label names the version, so a rotation
		// makes new material rather than finding the old.
		want, err := s.newObjectID(ctx)
		if err != nil {
			return err
		}
		id, err := s.tok.SecretKey(ctx, hsm.SecretKeyRequest{Label: s.materialLabel(k.ID + "/" + k.VersionID), Kind: hsm.AES256, NewID: want})
		if err != nil {
			s.abandon(ctx, want, err)
			return hsmError("generate key material", err)
		}
		if id != want { // found, made earlier by this store under the same label
			s.disown(ctx, string(want))
		}
		k.HSMObject = string(id)
		return nil
	}
	m := make([]byte, KeySpec(k.Spec).MaterialSize())
	defer clear(m)
	if _, err := rand.Read(m); err != nil {
		return wrapErr(KindInternal, err, "generate key material")
	}
	sealed, err := s.sealMaterial(ctx, k, m)
	if err != nil {
		return err
	}
	k.SealedMat = sealed
	return nil
}

// DescribeKey returns a key's metadata.
func (s *Service) DescribeKey(ctx context.Context, keyID string) (*KeyMetadata, error) {
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return nil, err
	}
	return s.metadata(k), nil
}

// ListKeys returns one page of keys in creation order.
func (s *Service) ListKeys(ctx context.Context, req ListKeysRequest) (*ListKeysResponse, error) {
	if err := s.Authorize(ctx); err != nil {
		return nil, err
	}
	if req.PageNumber == 0 {
		req.PageNumber = 1
	}
	if req.PageSize == 0 {
		req.PageSize = 10
	}
	if req.PageNumber < 1 || req.Offset < 0 {
		return nil, errorf(KindInvalidParameter, "PageNumber must be 1 or more, and Offset 0 or more")
	}
	if req.PageSize < 1 || req.PageSize > MaxPageSize {
		return nil, errorf(KindInvalidParameter, "PageSize must be from 1 to %d", MaxPageSize)
	}
	offset := (req.PageNumber - 1) * req.PageSize
	if req.Offset > 0 {
		offset = req.Offset
	}
	keys, total, err := s.st.ListKeys(ctx, offset, req.PageSize)
	if err != nil {
		return nil, storeError("list keys", err)
	}
	out := &ListKeysResponse{TotalCount: total, PageNumber: req.PageNumber, PageSize: req.PageSize, Keys: []KeyMetadata{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, *s.metadata(k))
	}
	return out, nil
}

// FindKeys returns, in creation order, the keys keep accepts: one pass
// over the whole key set in the store's batches (what filtered listings
// need), where paging by offset would re-walk it page after page.
func (s *Service) FindKeys(ctx context.Context, keep func(*KeyMetadata) bool) ([]KeyMetadata, error) {
	if err := s.Authorize(ctx); err != nil {
		return nil, err
	}
	var out []KeyMetadata
	err := s.st.EachKey(ctx, func(k *store.Key) bool {
		if m := s.metadata(k); keep(m) {
			out = append(out, *m)
		}
		return ctx.Err() == nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, storeError("list keys", err)
	}
	return out, nil
}

// EnableKey moves a Disabled (or Archived) key to Enabled. Other states
// forbid the change (Aliyun: Rejected.StateModifiedFailed).
func (s *Service) EnableKey(ctx context.Context, keyID string) error {
	return s.transition(ctx, keyID, "enable key", s.guarded(ctx, OpEnable, func(k *store.Key) error {
		k.State = string(StateEnabled)
		return nil
	}))
}

// DisableKey moves an Enabled (or Archived) key to Disabled.
func (s *Service) DisableKey(ctx context.Context, keyID string) error {
	return s.transition(ctx, keyID, "disable key", s.guarded(ctx, OpDisable, func(k *store.Key) error {
		k.State = string(StateDisabled)
		return nil
	}))
}

// ScheduleKeyDeletion puts a key in PendingDeletion for days (7–366).
func (s *Service) ScheduleKeyDeletion(ctx context.Context, keyID string, days int) (*KeyMetadata, error) {
	if days < MinDeletionDays || days > MaxDeletionDays {
		return nil, errorf(KindInvalidParameter, "PendingWindowInDays must be from %d to %d", MinDeletionDays, MaxDeletionDays)
	}
	var out *store.Key
	err := s.transition(ctx, keyID, "schedule key deletion", s.guarded(ctx, OpScheduleDeletion, func(k *store.Key) error {
		if k.DeletionProtection {
			return errorf(KindDeletionProtected, "key %s has deletion protection on; turn it off first", keyID)
		}
		k.State = string(StatePendingDeletion)
		k.DeleteDate = s.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		out = k
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return s.metadata(out), nil
}

// CancelKeyDeletion takes a key out of PendingDeletion: back to Enabled if
// it has material, as the clouds do, else to PendingImport.
func (s *Service) CancelKeyDeletion(ctx context.Context, keyID string) error {
	return s.transition(ctx, keyID, "cancel key deletion", s.guarded(ctx, OpCancelDeletion, func(k *store.Key) error {
		k.DeleteDate = time.Time{}
		k.State = string(cancelledState[cloudOf(ctx)])
		if !k.HasMaterial() || s.materialExpired(k) {
			k.State = string(StatePendingImport)
		}
		return nil
	}))
}

// transition applies a state change in one store transaction.
func (s *Service) transition(ctx context.Context, keyID, op string, fn func(k *store.Key, state KeyState) error) error {
	k, err := s.getKey(ctx, keyID) // keyID may be an alias
	if err != nil {
		return err
	}
	keyID = k.ID
	_, err = s.st.UpdateKey(ctx, keyID, func(k *store.Key) error {
		if s.deleted(k) {
			return errorf(KindNotFound, "key %s not found", keyID)
		}
		return fn(k, s.state(k))
	})
	if err != nil {
		return storeError(op, err)
	}
	return nil
}

// guarded is a transition that the state table allows first.
func (s *Service) guarded(ctx context.Context, op Op, fn func(k *store.Key) error) func(*store.Key, KeyState) error {
	return func(k *store.Key, _ KeyState) error {
		if err := s.allow(ctx, op, k); err != nil {
			return err
		}
		return fn(k)
	}
}

// getKey loads a key that still exists: one past its deletion date is gone
// even before the collector destroys it. keyID may be an alias (alias/NAME).
func (s *Service) getKey(ctx context.Context, keyID string) (*store.Key, error) {
	return s.readKey(ctx, keyID, s.st.GetKey)
}

// getPrimary is getKey without the key's retired versions: for the
// actions that use only the primary one (Encrypt), whose cost must not
// grow with a key's versions.
func (s *Service) getPrimary(ctx context.Context, keyID string) (*store.Key, error) {
	return s.readKey(ctx, keyID, s.st.GetPrimary)
}

func (s *Service) readKey(ctx context.Context, keyID string, read func(context.Context, string) (*store.Key, error)) (*store.Key, error) {
	if keyID == "" {
		return nil, errorf(KindInvalidParameter, "KeyId is required")
	}
	named := keyID
	keyID, err := s.resolveAlias(ctx, keyID)
	if err != nil {
		return nil, err
	}
	k, err := read(ctx, keyID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.deleted(k)) {
		return nil, errorf(KindNotFound, "key %s not found", keyID)
	}
	if err != nil {
		return nil, storeError("get key", err)
	}
	use := wire.KeyUse{KeyID: k.ID, Version: k.VersionID}
	if named != keyID {
		use.Alias = named
	}
	wire.TouchKey(ctx, use) // the audit log names every key a request acted on, refused ones included
	if err := s.permitKey(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Service) deleted(k *store.Key) bool {
	return KeyState(k.State) == StatePendingDeletion && !k.DeleteDate.IsZero() && !s.now().Before(k.DeleteDate)
}

func (s *Service) materialExpired(k *store.Key) bool {
	return !k.MaterialExp.IsZero() && !s.now().Before(k.MaterialExp)
}

// state is the key's state as of now: expired material behaves as deleted
// on every use, before the collector has destroyed it.
func (s *Service) state(k *store.Key) KeyState {
	st := KeyState(k.State)
	if (st == StateEnabled || st == StateDisabled || st == StateArchived) && (!k.HasMaterial() || s.materialExpired(k)) {
		return StatePendingImport
	}
	return st
}

func (s *Service) metadata(k *store.Key) *KeyMetadata {
	m := &KeyMetadata{
		KeyID: k.ID, KeyVersionID: k.VersionID, Spec: KeySpec(k.Spec), Usage: KeyUsage(k.Usage),
		Origin: Origin(k.Origin), Protection: ProtectionLevel(k.Protection), Description: k.Description, Alias: k.Alias,
		State: s.state(k), Created: k.Created, DeleteDate: k.DeleteDate,
		Tags: maps.Clone(k.Tags), DeletionProtection: k.DeletionProtection, ProtectionNote: k.ProtectionNote,
		HSMCluster: k.HSMCluster, AutoRotate: k.AutoRotate, RotationInterval: k.RotationInterval,
		LastRotation: k.LastRotation, NextRotation: k.NextRotation(),
	}
	if k.HasMaterial() && !s.materialExpired(k) {
		m.MaterialExpires = k.MaterialExp
	}
	return m
}

// inToken says whether the key's material is a token object: HSM-level AES
// keys. SM4 material is sealed at every level, as the token has no SM4.
func inToken(k *store.Key) bool {
	return ProtectionLevel(k.Protection) == ProtectionHSM && KeySpec(k.Spec) == SpecAES256
}
