package service

import (
	"context"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service/store"
)

// CollectStats says what one collection destroyed.
type CollectStats struct {
	WrappingKeys int // expired issued wrapping pairs
	Materials    int // expired key material
	Keys         int // keys past their deletion date
}

func (s *Service) collectLoop(ctx context.Context) {
	t := time.NewTicker(s.opt.CollectEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Collect(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("collector", "err", err)
			}
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
	var expired []string
	if err := s.st.EachWrapping(ctx, func(w *store.WrappingKey) bool {
		if w.KeyID != "" && !now.Before(w.Expires) {
			expired = append(expired, w.ID)
		}
		return ctx.Err() == nil
	}); err != nil {
		return st, storeError("collect", err)
	}
	for _, id := range expired {
		s.destroyWrapping(ctx, id)
		st.WrappingKeys++
	}

	var doomed, stale []*store.Key
	if err := s.st.EachKey(ctx, func(k *store.Key) bool {
		switch {
		case s.deleted(k):
			doomed = append(doomed, k)
		case k.HasMaterial() && s.materialExpired(k):
			stale = append(stale, k)
		}
		return ctx.Err() == nil
	}); err != nil {
		return st, storeError("collect", err)
	}
	for _, k := range doomed {
		if err := s.st.DeleteKey(ctx, k.ID); err != nil {
			return st, storeError("collect", err)
		}
		s.destroyMaterial(ctx, k.HSMObject)
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
	return st, nil
}

// lister is implemented by hsm.HSM: listing the token is for start-up only.
type lister interface {
	Objects(ctx context.Context) ([]hsm.Object, error)
}

// reconcile deletes Keyport's token objects that the store does not know:
// what a crash left between making an object and recording it. It runs
// before the service takes requests, so nothing is half-made meanwhile.
func (s *Service) reconcile(ctx context.Context) error {
	l, ok := s.tok.(lister)
	if !ok {
		return nil
	}
	objs, err := l.Objects(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	if err := s.st.EachWrapping(ctx, func(w *store.WrappingKey) bool { known[w.ID] = true; return true }); err != nil {
		return err
	}
	if err := s.st.EachKey(ctx, func(k *store.Key) bool {
		if k.HSMObject != "" {
			known[k.HSMObject] = true
		}
		return true
	}); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, o := range objs {
		ours := o.IsWrappingKey() || strings.HasPrefix(o.Label, "keyport-material-")
		if !ours || known[o.ID] || seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		if err := s.tok.Delete(ctx, hsm.KeyID(o.ID)); err != nil {
			return err
		}
		s.log.Info("removed orphaned token object", "object", o.ID, "label", o.Label)
	}
	return nil
}
