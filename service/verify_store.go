package service

import (
	"context"
	"fmt"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// StoreCheck is what VerifyStore found. Problems are what does not hold;
// Unnamed are objects of this deployment that no record names (listed,
// never destroyed: another store of the deployment, such as a copy a
// backup was restored from, may use them).
type StoreCheck struct {
	Keys, Versions, AccessKeys, WrappingKeys, Objects int
	Problems                                          []string
	Unnamed                                           []hsm.Object
	// RestoredFrom is the backup the store was restored from, if it was:
	// objects no record names may then be keys made after it.
	RestoredFrom *Snapshot `json:",omitempty"`
}

// OK says whether every record and object holds.
func (c *StoreCheck) OK() bool { return len(c.Problems) == 0 }

// VerifyStore checks the store against the token and changes neither:
// every record decodes (the store's iteration reads each whole), every
// sealed secret and sealed material opens in the HSM, every token object a
// record names is on the token; and it lists the deployment's objects no
// record names.
func (s *Service) VerifyStore(ctx context.Context) (*StoreCheck, error) {
	admin, ok := s.tok.(objectAdmin)
	if !ok {
		return nil, errorf(KindInternal, "this token cannot list objects")
	}
	objs, err := admin.Objects(ctx)
	if err != nil {
		return nil, hsmError("list token objects", err)
	}
	onToken := map[string]bool{}
	for _, o := range objs {
		onToken[o.ID] = true
	}
	c := &StoreCheck{}
	if desc, err := s.st.Meta(ctx, store.MetaRestoredFrom); err != nil {
		return nil, storeError("read settings", err)
	} else if snap, ok, err := ParseSnapshot(desc); err != nil {
		c.Problems = append(c.Problems, err.Error())
	} else if ok {
		c.RestoredFrom = &snap
	}
	problem := func(format string, args ...any) { c.Problems = append(c.Problems, fmt.Sprintf(format, args...)) }
	named := func(what, id string) {
		if id != "" && !onToken[id] {
			problem("%s names token object %s, which the token does not hold", what, id)
		}
	}
	opens := func(what string, k *store.Key) {
		if len(k.SealedMat) == 0 {
			return
		}
		m, err := s.openMaterial(ctx, k)
		if err != nil {
			problem("%s: %v", what, err)
			return
		}
		clear(m)
	}
	err = s.st.EachKey(ctx, func(k *store.Key) bool {
		c.Keys++
		what := "key " + k.ID
		opens(what, k)
		named(what, k.HSMObject)
		for _, v := range k.Versions {
			c.Versions++
			old := *k
			old.VersionID, old.SealedMat, old.HSMObject = v.ID, v.SealedMat, v.HSMObject
			opens(what+" version "+v.ID, &old)
			named(what+" version "+v.ID, v.HSMObject)
		}
		return ctx.Err() == nil
	})
	if err != nil {
		return nil, storeError("read keys", err)
	}
	keys, err := s.accessKeys().ListAccessKeys(ctx)
	if err != nil {
		return nil, storeError("read access keys", err)
	}
	for _, a := range keys {
		c.AccessKeys++
		secret, err := s.tok.Open(ctx, s.master, a.SealedSecret, accessKeyAAD(a.ID))
		if err != nil {
			problem("access key %s: its sealed secret does not open: %v", a.ID, err)
			continue
		}
		clear(secret)
	}
	if err := s.st.EachWrapping(ctx, func(w *store.WrappingKey) bool {
		c.WrappingKeys++
		named("wrapping key", w.ID)
		return true
	}); err != nil {
		return nil, storeError("read wrapping keys", err)
	}
	for _, id := range []hsm.KeyID{s.sealKey, s.macKey} {
		named("the store's master key record", string(id))
	}
	classified, err := s.ClassifyObjects(ctx)
	if err != nil {
		return nil, hsmError("classify token objects", err)
	}
	c.Objects = len(onToken)
	c.Unnamed = append(append(c.Unnamed, classified.Orphans...), classified.Unowned...)
	return c, nil
}
