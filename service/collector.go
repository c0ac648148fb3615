package service

import (
	"context"
	"errors"
	"time"

	"github.com/keyport-kms/keyport/store"
)

// CollectStats says what one collection destroyed.
type CollectStats struct {
	WrappingKeys int // expired issued wrapping pairs
	Materials    int // expired key material
	Keys         int // keys past their deletion date
	PoolRetired  int // pooled pairs beyond what demand now asks for
	Rotated      int // keys given a new version by automatic rotation
}

func (s *Service) collectLoop(ctx context.Context) {
	t := time.NewTicker(s.opt.CollectEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.collectOnce(ctx)
		}
	}
}

// collectOnce collects under a lease: of replicas sharing a store, one
// collects at a time. It also forgets request nonces past their window.
func (s *Service) collectOnce(ctx context.Context) {
	release, ok, err := s.st.TryLease(ctx, "collect")
	if err != nil || !ok {
		return
	}
	defer release()
	if _, err := s.Collect(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("collector", "err", err)
	}
	if u, ok := s.st.(store.Uses); ok {
		if _, err := u.ForgetUses(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.Warn("collector: forget request nonces", "err", err)
		}
	}
}

// Collect destroys what has expired: issued wrapping pairs past their
// token's expiry, key material past KeyMaterialExpireUnix, and keys past
// their deletion date with their token objects. It keeps the number of
// token objects bounded by pool size + live tokens + keys' material.
func (s *Service) Collect(ctx context.Context) (CollectStats, error) {
	var st CollectStats
	now := s.now()
	// The store's expiry and deadline indexes hand over only what is due:
	// a collection costs what it destroys, not the number of keys.
	if err := s.st.DueWrapping(ctx, now, func(w *store.WrappingKey) bool {
		s.destroyWrapping(ctx, w.ID)
		st.WrappingKeys++
		return ctx.Err() == nil
	}); err != nil {
		return st, storeError("collect", err)
	}
	st.PoolRetired = s.pool.shrink(ctx)

	var doomed, stale, rotate []*store.Key
	if err := s.st.DueKeys(ctx, now, func(k *store.Key) bool {
		switch {
		case s.deleted(k):
			doomed = append(doomed, k)
		case k.HasMaterial() && s.materialExpired(k):
			stale = append(stale, k)
		case !k.NextRotation().IsZero() && !now.Before(k.NextRotation()):
			rotate = append(rotate, k)
		}
		return ctx.Err() == nil
	}); err != nil {
		return st, storeError("collect", err)
	}
	for _, k := range doomed {
		if err := s.st.DeleteKey(ctx, k.ID); errors.Is(err, store.ErrNotFound) {
			continue // collected meanwhile (by hsm purge, or a replica)
		} else if err != nil {
			return st, storeError("collect", err)
		}
		for _, o := range k.Objects() {
			s.destroyMaterial(ctx, o)
		}
		s.log.Info("key deleted after its pending window", "key_id", k.ID)
		st.Keys++
	}
	for _, k := range stale {
		var object string
		cleared := false
		_, err := s.st.UpdateKey(ctx, k.ID, func(k *store.Key) error {
			if cleared = k.HasMaterial() && s.materialExpired(k); !cleared {
				return nil // re-imported meanwhile
			}
			object = k.HSMObject
			k.SealedMat, k.HSMObject = nil, ""
			k.MaterialGen++
			if KeyState(k.State) != StatePendingDeletion {
				k.State = string(StatePendingImport)
			}
			return nil
		})
		if err != nil {
			return st, storeError("collect", err)
		}
		if cleared {
			s.destroyMaterial(ctx, object)
			st.Materials++
		}
	}
	st.Rotated = s.rotateDue(ctx, rotate)
	return st, nil
}
