package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// Token object labels. Every object a deployment makes carries its
// deployment id, so that several deployments (a staging instance, a second
// store, a mistyped data directory) can share a token and none touches
// another's objects:
//
//	keyport/<deployment>/wrap-rsa            wrapping key pair, RSA-2048
//	keyport/<deployment>/wrap-sm2            wrapping key pair, SM2
//	keyport/<deployment>/material/<key id>   HSM-level key material
//	keyport/<deployment>/master-seal-v1      master keys
//	keyport/<deployment>/master-mac-v1
//
// Objects made before deployment ids carry legacy labels (keyport-wrap-…,
// keyport-material-…, keyport-master-…); the deployment whose store refers
// to one adopts it at start-up by relabelling it, and the rest are listed,
// never destroyed on their own.

// Kinds of Keyport token objects.
const (
	ObjectWrapping = "wrap"
	ObjectMaterial = "material"
	ObjectMaster   = "master"
)

// LegacyDeployment names, in ObjectOwner and `hsm purge --orphans`, the
// objects made before labels named a deployment.
const LegacyDeployment = "legacy"

// ObjectOwner is what a Keyport label says of its object.
type ObjectOwner struct {
	Deployment string // a deployment id, or LegacyDeployment
	Kind       string // ObjectWrapping, ObjectMaterial or ObjectMaster
}

// OwnerOf reads a token object's label; ok is false for objects Keyport did
// not make.
func OwnerOf(label string) (o ObjectOwner, ok bool) {
	if rest, found := strings.CutPrefix(label, "keyport/"); found {
		dep, what, found := strings.Cut(rest, "/")
		if !found || !validDeployment(dep) {
			return o, false
		}
		o.Deployment = dep
		switch {
		case what == "wrap-rsa" || what == "wrap-sm2":
			o.Kind = ObjectWrapping
		case strings.HasPrefix(what, "material/"):
			o.Kind = ObjectMaterial
		case strings.HasPrefix(what, "master-"):
			o.Kind = ObjectMaster
		default:
			return o, false
		}
		return o, true
	}
	o.Deployment = LegacyDeployment
	switch {
	case strings.HasPrefix(label, "keyport-wrap-"):
		o.Kind = ObjectWrapping
	case strings.HasPrefix(label, "keyport-material-"):
		o.Kind = ObjectMaterial
	case strings.HasPrefix(label, "keyport-master-"):
		o.Kind = ObjectMaster
	default:
		return o, false
	}
	return o, true
}

func validDeployment(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Service) label(what string) string { return "keyport/" + s.deployment + "/" + what }

func (s *Service) wrappingLabel(spec WrappingKeySpec) string {
	if spec == WrappingSM2 {
		return s.label("wrap-sm2")
	}
	return s.label("wrap-rsa")
}

func (s *Service) materialLabel(keyID string) string { return s.label("material/" + keyID) }

// Deployment is the id every token object of this deployment carries.
func (s *Service) Deployment() string { return s.deployment }

// masterKey returns the master key the store records under meta, or makes
// it: the store, not the token, says which key it is, and InitMeta makes
// the first process to record one the winner, so processes starting
// together on one store agree on one key and no label is ever ambiguous.
// A store made before deployment ids adopts the legacy-labelled key.
func (s *Service) masterKey(ctx context.Context, meta, name string, kind hsm.SecretKind) (hsm.KeyID, error) {
	recorded, err := s.st.Meta(ctx, meta)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", meta, err)
	}
	if recorded != "" {
		return s.tok.SecretKey(ctx, hsm.SecretKeyRequest{ID: hsm.KeyID(recorded), Kind: kind})
	}
	label := s.label(name)
	if s.legacy {
		label = "keyport-" + name
	}
	id, err := s.tok.SecretKey(ctx, hsm.SecretKeyRequest{Label: label, Kind: kind})
	if err != nil {
		return "", err
	}
	won, err := s.st.InitMeta(ctx, meta, string(id))
	if err != nil {
		return "", fmt.Errorf("record %s: %w", meta, err)
	}
	if won != string(id) {
		if !s.legacy { // ours, made just now and never used
			_ = s.tok.Delete(ctx, id)
		}
		return s.tok.SecretKey(ctx, hsm.SecretKeyRequest{ID: hsm.KeyID(won), Kind: kind})
	}
	return id, nil
}

// newObjectID reserves the id of a token object about to be made, in the
// store's ledger of owned objects first: a crash after the object exists
// and before a record names it leaves an object this store knows it made,
// which reconcile destroys; an object of this deployment in no ledger
// (made by a migrated copy, a restored backup) is never destroyed.
func (s *Service) newObjectID(ctx context.Context) (hsm.KeyID, error) {
	id, err := hsm.NewKeyID()
	if err != nil {
		return "", wrapErr(KindInternal, err, "token object id")
	}
	if err := s.st.OwnObject(ctx, string(id), time.Now()); err != nil {
		return "", storeError("reserve token object", err)
	}
	return id, nil
}

// abandon forgets the object reserved for a making that failed, unless
// the token went away during the call: the object may then exist (made,
// with the answer lost), so the ledger keeps it, and reconcile destroys it
// if it does and drops the entry if it does not. Forgetting it would leave
// an object no store of the deployment ever destroys.
func (s *Service) abandon(ctx context.Context, id hsm.KeyID, err error) {
	if errors.Is(err, hsm.ErrUnavailable) || ctx.Err() != nil {
		s.log.Warn("the token went away while an object was made; the ledger keeps it for reconcile", "object", id)
		return
	}
	s.disown(ctx, string(id))
}

// destroyUnrecorded destroys the material object made for a record whose
// write failed, unless the write may have been committed all the same (the
// store went away during it): then the object stays, and either a record
// names it or reconcile finds it unrecorded in the ledger and destroys it.
func (s *Service) destroyUnrecorded(ctx context.Context, object string, writeErr error) {
	if errors.Is(writeErr, store.ErrUnavailable) {
		if object != "" {
			s.log.Warn("the store went away while a record naming a new token object was written; the object stays for reconcile", "object", object)
		}
		return
	}
	s.destroyMaterial(ctx, object)
}

// disown forgets an object destroyed (or never made); an entry left behind
// names no object and is dropped by reconcile.
func (s *Service) disown(ctx context.Context, id string) {
	if err := s.st.DisownObject(context.WithoutCancel(ctx), id); err != nil {
		s.log.Warn("forget destroyed token object in the ledger; reconcile drops it later", "object", id, "err", err)
	}
}

// objectAdmin is implemented by hsm.HSM: listing and relabelling the
// token's objects, for start-up and the admin CLI only.
type objectAdmin interface {
	Objects(ctx context.Context) ([]hsm.Object, error)
	SetLabel(ctx context.Context, id hsm.KeyID, label string) error
}

// TokenObjects sorts the Keyport objects on the token for this deployment.
type TokenObjects struct {
	Orphans []hsm.Object // this deployment's, made by this store (in its ledger) and named by no record: what a crash left
	// Unowned are this deployment's, named by no record and not in this
	// store's ledger: made by another store of the deployment (a migrated
	// copy, a restored backup). Listed, never destroyed.
	Unowned []hsm.Object
	// Dangling are ledger entries that name no object on the token and no
	// record: a creation that never happened, or a destruction not yet
	// forgotten.
	Dangling      map[string]time.Time
	LegacyAdopted []hsm.Object // legacy-labelled, known to this store: relabelled at start-up
	LegacyOrphans []hsm.Object // legacy-labelled, unknown to this store (maybe another's)
	Others        int          // objects of other deployments, left alone
}

// referenced lists the token object ids the store knows.
func (s *Service) referenced(ctx context.Context) (map[string]bool, error) {
	known, err := recordedObjects(ctx, s.st)
	if err != nil {
		return nil, err
	}
	for _, id := range []hsm.KeyID{s.sealKey, s.macKey} {
		known[string(id)] = true
	}
	return known, nil
}

// recordedObjects lists the token object ids the store's records name:
// wrapping keys and key material (master keys are named by settings).
func recordedObjects(ctx context.Context, st store.Store) (map[string]bool, error) {
	known := map[string]bool{}
	if err := st.EachWrapping(ctx, func(w *store.WrappingKey) bool { known[w.ID] = true; return true }); err != nil {
		return nil, err
	}
	if err := st.KeyObjects(ctx, func(object, _ string) bool { known[object] = true; return true }); err != nil {
		return nil, err
	}
	return known, nil
}

// CountTokenObjects counts the token objects labelled with this
// deployment's id, each pair once.
func (s *Service) CountTokenObjects(ctx context.Context) (int, error) {
	admin, ok := s.tok.(objectAdmin)
	if !ok {
		return 0, errorf(KindInternal, "this token cannot list objects")
	}
	objs, err := admin.Objects(ctx)
	if err != nil {
		return 0, hsmError("list token objects", err)
	}
	ids := map[string]bool{}
	for _, o := range objs {
		if owner, ok := OwnerOf(o.Label); ok && owner.Deployment == s.deployment {
			ids[o.ID] = true
		}
	}
	return len(ids), nil
}

// ClassifyObjects reads the token and sorts Keyport's objects by owner.
// Each pair appears once (by its private or secret half).
func (s *Service) ClassifyObjects(ctx context.Context) (TokenObjects, error) {
	var out TokenObjects
	admin, ok := s.tok.(objectAdmin)
	if !ok {
		return out, nil
	}
	objs, err := admin.Objects(ctx)
	if err != nil {
		return out, err
	}
	known, err := s.referenced(ctx)
	if err != nil {
		return out, err
	}
	owned := map[string]time.Time{}
	if err := s.st.EachOwned(ctx, func(id string, since time.Time) bool { owned[id] = since; return true }); err != nil {
		return out, err
	}
	out.Dangling = map[string]time.Time{}
	for id, since := range owned {
		if !known[id] {
			out.Dangling[id] = since
		}
	}
	seen := map[string]bool{}
	for _, o := range objs {
		owner, ok := OwnerOf(o.Label)
		if !ok || seen[o.ID] {
			continue
		}
		seen[o.ID] = true
		delete(out.Dangling, o.ID)
		_, mine := owned[o.ID]
		switch {
		case owner.Deployment == s.deployment:
			switch {
			case known[o.ID] || owner.Kind == ObjectMaster:
			case mine:
				out.Orphans = append(out.Orphans, o)
			default:
				out.Unowned = append(out.Unowned, o)
			}
		case owner.Deployment == LegacyDeployment && known[o.ID]:
			out.LegacyAdopted = append(out.LegacyAdopted, o)
		case owner.Deployment == LegacyDeployment && owner.Kind != ObjectMaster:
			out.LegacyOrphans = append(out.LegacyOrphans, o)
		case owner.Deployment != LegacyDeployment:
			out.Others++
		}
	}
	return out, nil
}

// reconcile runs at start-up of the server: it destroys this deployment's
// objects that its store does not know (what a crash left between making
// an object and recording it), adopts the legacy-labelled objects its store
// refers to, and only lists legacy objects no store of this deployment
// refers to. Other deployments' objects are never touched.
//
// On a store only this process opens, it runs before the server takes
// requests, and an unknown object is an orphan at once. On a store replicas
// share, another replica may have made an object it has not recorded yet,
// so reconcile runs in the background under a lease, and destroys only
// objects still unknown after grace (confirmedOrphans).
func (s *Service) reconcile(ctx context.Context, grace time.Duration) error {
	if s.st.Shared() {
		release, ok, err := s.st.TryLease(ctx, "reconcile")
		if err != nil || !ok {
			return err // another replica is at it
		}
		defer release()
	}
	orphans, objs, err := s.confirmedOrphans(ctx, grace)
	if err != nil {
		return err
	}
	if _, err := s.destroyOrphans(ctx, orphans); err != nil {
		return err
	}
	for _, o := range objs.Unowned {
		s.log.Warn("token object of this deployment that this store did not make (another store of the deployment, such as a migrated copy, may use it); left alone",
			"object", o.ID, "label", o.Label)
	}
	for id, since := range objs.Dangling {
		if time.Since(since) > grace {
			s.disown(ctx, id)
		}
	}
	admin, _ := s.tok.(objectAdmin)
	for _, o := range objs.LegacyAdopted {
		label, relabel := s.adoptedLabel(o.Label)
		if !relabel {
			continue
		}
		if err := admin.SetLabel(ctx, hsm.KeyID(o.ID), label); err != nil {
			s.log.Warn("could not relabel an adopted legacy object; it stays referenced by this store", "object", o.ID, "label", o.Label, "err", err)
			continue
		}
		s.log.Info("adopted legacy token object", "object", o.ID, "old_label", o.Label, "label", label)
	}
	for _, o := range objs.LegacyOrphans {
		s.log.Warn("legacy Keyport object that this store does not know; left alone (another store may own it; see keyport hsm purge --orphans)",
			"object", o.ID, "label", o.Label)
	}
	return nil
}

// confirmedOrphans lists this deployment's objects the store does not know
// and, with a grace, looks again after it and keeps only those still
// unknown: an object a live replica made and is about to record is not an
// orphan.
func (s *Service) confirmedOrphans(ctx context.Context, grace time.Duration) ([]hsm.Object, TokenObjects, error) {
	objs, err := s.ClassifyObjects(ctx)
	if err != nil || grace <= 0 || len(objs.Orphans) == 0 {
		return objs.Orphans, objs, err
	}
	s.log.Info("unrecorded token objects found; destroying those still unrecorded after the grace", "objects", len(objs.Orphans), "grace", grace)
	select {
	case <-time.After(grace):
	case <-ctx.Done():
		return nil, objs, ctx.Err()
	}
	again, err := s.ClassifyObjects(ctx)
	if err != nil {
		return nil, objs, err
	}
	still := map[string]bool{}
	for _, o := range again.Orphans {
		still[o.ID] = true
	}
	var confirmed []hsm.Object
	for _, o := range objs.Orphans {
		if still[o.ID] {
			confirmed = append(confirmed, o)
		}
	}
	return confirmed, again, nil
}

// adoptedLabel is the label this deployment gives a legacy object it
// adopts; relabel is false for master keys, which every legacy store on the
// token shares and which therefore keep their label.
func (s *Service) adoptedLabel(legacy string) (label string, relabel bool) {
	owner, _ := OwnerOf(legacy)
	switch {
	case owner.Kind == ObjectMaterial:
		return s.materialLabel(strings.TrimPrefix(legacy, "keyport-material-")), true
	case owner.Kind == ObjectWrapping && strings.HasPrefix(legacy, "keyport-wrap-sm2-"):
		return s.wrappingLabel(WrappingSM2), true
	case owner.Kind == ObjectWrapping:
		return s.wrappingLabel(WrappingRSA2048), true
	}
	return "", false
}

func (s *Service) destroyOrphans(ctx context.Context, objs []hsm.Object) (int, error) {
	for i, o := range objs {
		if err := s.tok.Delete(ctx, hsm.KeyID(o.ID)); err != nil && !errors.Is(err, hsm.ErrNotFound) {
			return i, hsmError("destroy orphaned object", err)
		}
		s.disown(ctx, o.ID)
		s.log.Info("removed orphaned token object of this deployment", "object", o.ID, "label", o.Label)
	}
	return len(objs), nil
}

// Orphans lists this deployment's token objects the store does not know,
// with the rest of the token's Keyport objects sorted by owner. On a store
// replicas share it takes the orphan grace to confirm them (replicas may
// be running and about to record an object).
func (s *Service) Orphans(ctx context.Context) ([]hsm.Object, TokenObjects, error) {
	grace := time.Duration(0)
	if s.st.Shared() {
		grace = s.opt.OrphanGrace
	}
	return s.confirmedOrphans(ctx, grace)
}

// PurgeOrphans destroys this deployment's token objects that the store does
// not know, as start-up does; for `keyport hsm purge --expired`. On a store
// replicas share it waits the orphan grace to confirm them (the replicas
// may be running).
func (s *Service) PurgeOrphans(ctx context.Context) (int, error) {
	orphans, _, err := s.Orphans(ctx)
	if err != nil {
		return 0, hsmError("list token objects", err)
	}
	return s.destroyOrphans(ctx, orphans)
}

// PurgeWrappingKey destroys one of this deployment's wrapping key pairs, on
// the token and in the store; any other object is refused.
func (s *Service) PurgeWrappingKey(ctx context.Context, id string) error {
	admin, ok := s.tok.(objectAdmin)
	if !ok {
		return errorf(KindInternal, "this token cannot list objects")
	}
	objs, err := admin.Objects(ctx)
	if err != nil {
		return hsmError("list token objects", err)
	}
	for _, o := range objs {
		if owner, ok := OwnerOf(o.Label); o.ID == id && ok && owner.Kind == ObjectWrapping && owner.Deployment == s.deployment {
			if err := s.tok.Delete(ctx, hsm.KeyID(id)); err != nil {
				return hsmError("destroy wrapping key", err)
			}
			if err := s.st.DeleteWrapping(ctx, id); err != nil {
				return storeError("forget wrapping key", err)
			}
			s.disown(ctx, id)
			return nil
		}
	}
	return errorf(KindNotFound, "%s is not a wrapping key of deployment %s on this token", id, s.deployment)
}
