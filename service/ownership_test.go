package service_test

import (
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
)

// deploymentData is what one deployment keeps on a shared token: an
// HSM-level key (material as a token object), a SOFTWARE key (sealed under
// the master key), their ciphertexts, and an issued wrapping key.
type deploymentData struct {
	blobs   map[string][]byte // key id → ciphertext of "plaintext"
	objects map[string]bool   // this deployment's token object ids
}

func (e *env) populate(t *testing.T) deploymentData {
	t.Helper()
	ctx := ctxT(t)
	d := deploymentData{blobs: map[string][]byte{}, objects: map[string]bool{}}
	for _, level := range []service.ProtectionLevel{service.ProtectionHSM, service.ProtectionSoftware} {
		md, _ := e.importNew(t, service.SpecAES256, level, service.AlgRSAOAEPSHA256)
		res, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("plaintext")})
		if err != nil {
			t.Fatal(err)
		}
		d.blobs[md.KeyID] = res.CiphertextBlob
	}
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingSM2, Algorithm: service.AlgSM2PKE}); err != nil {
		t.Fatal(err)
	}
	for _, o := range e.objects(t) {
		d.objects[o.ID] = true
	}
	return d
}

// objects lists the token objects labelled for this env's deployment.
func (e *env) objects(t *testing.T) []hsm.Object {
	t.Helper()
	objs, err := e.h.Objects(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []hsm.Object
	for _, o := range objs {
		if strings.HasPrefix(o.Label, e.label("")) {
			out = append(out, o)
		}
	}
	return out
}

// check asserts that every object is still on the token and every
// ciphertext still decrypts.
func (e *env) check(t *testing.T, d deploymentData) {
	t.Helper()
	ctx := ctxT(t)
	have := map[string]bool{}
	objs, err := e.h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		have[o.ID] = true
	}
	for id := range d.objects {
		if !have[id] {
			t.Errorf("deployment %s lost token object %s", e.svc.Deployment(), id)
		}
	}
	for keyID, blob := range d.blobs {
		res, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: blob})
		if err != nil || string(res.Plaintext) != "plaintext" {
			t.Errorf("deployment %s, key %s: decrypt %q, %v", e.svc.Deployment(), keyID, res.Plaintext, err)
		}
	}
}

// Two deployments on one token, each with HSM-level material, sealed
// material and an issued wrapping key: restarting one (which reconciles),
// purging one and reading one never touches the other's objects.
func TestTwoDeploymentsOneToken(t *testing.T) {
	a := newEnv(t)
	b := &env{tok: a.tok, dir: t.TempDir(), clock: a.clock}
	b.open(t)
	if a.svc.Deployment() == b.svc.Deployment() {
		t.Fatal("two stores share a deployment id")
	}
	da, db := a.populate(t), b.populate(t)

	// Each side's restart reconciles, and each side purges its own orphans.
	for _, e := range []*env{a, b} {
		e.close()
		e.open(t)
		if _, err := e.svc.PurgeOrphans(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Collect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	a.check(t, da)
	b.check(t, db)

	// A's own orphan (its id reserved in A's ledger, made, never recorded:
	// a crash between the two) goes at A's next start; an object with A's
	// deployment id that A's store never made (a migrated copy's) stays;
	// B's objects stay, and B does not count A's objects as its own.
	reserved, err := hsm.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.st.OwnObject(ctxT(t), string(reserved), time.Now()); err != nil {
		t.Fatal(err)
	}
	orphan, err := a.h.GenerateKeyPair(ctxT(t), hsm.RSA2048, a.label("wrap-rsa"), reserved)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := a.h.GenerateKeyPair(ctxT(t), hsm.RSA2048, a.label("wrap-rsa"), "")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := b.svc.ClassifyObjects(ctxT(t))
	if err != nil || len(objs.Orphans) != 0 || objs.Others == 0 {
		t.Fatalf("B's view of the token: %+v, %v", objs, err)
	}
	a.close()
	a.open(t)
	if n := countObjectsByID(t, a.h, string(orphan.ID)); n != 0 {
		t.Fatalf("A's orphan survived A's start (%d objects)", n)
	}
	if n := countObjectsByID(t, a.h, string(stranger.ID)); n != 2 {
		t.Fatalf("an object of A's deployment that A's store never made was destroyed (%d objects left)", n)
	}
	if _, err := a.svc.PurgeOrphans(ctxT(t)); err != nil || countObjectsByID(t, a.h, string(stranger.ID)) != 2 {
		t.Fatalf("purge destroyed an object A's store never made: %v", err)
	}
	if err := a.h.Delete(ctxT(t), stranger.ID); err != nil {
		t.Fatal(err)
	}
	a.check(t, da)
	b.check(t, db)
	if err := b.svc.PurgeWrappingKey(ctxT(t), a.objects(t)[0].ID); !errors.Is(err, service.KindNotFound) {
		t.Fatalf("B purged one of A's objects by id: %v", err)
	}
}

// A store made before deployment ids adopts the legacy-labelled objects it
// refers to (relabelling them) and its legacy master keys; legacy objects
// it does not know are listed, never destroyed.
func TestLegacyObjectsAdopted(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	e.close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Without the probe, keys are made as before key policies: modifiable.
	h, err := hsm.Open(ctx, hsm.Config{Module: e.tok.Module, TokenLabel: e.tok.Label, PIN: e.tok.PIN, Logger: quiet, SkipProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	// A schema-2 store and the objects the old code made for it.
	dir := t.TempDir()
	st, err := bolt.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.InitMeta(ctx, store.MetaLegacyObjects, "true"); err != nil {
		t.Fatal(err)
	}
	seal, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "keyport-master-seal-v1", Kind: hsm.AES256})
	if err != nil {
		t.Fatal(err)
	}
	pooled, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-wrap-rsa-x", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddPooled(ctx, &store.WrappingKey{ID: string(pooled.ID), Spec: string(service.WrappingRSA2048), PublicDER: pooled.PublicDER, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	stranger, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-wrap-rsa-y", "") // another legacy store's, maybe
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	h.Close()

	e.dir = dir
	e.open(t, func(o *service.Options) { o.PoolRSA, o.PoolSM2 = -1, -1 })
	objs, err := e.svc.ClassifyObjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{}
	all, _ := e.h.Objects(ctx)
	for _, o := range all {
		labels[o.ID] = o.Label
	}
	if labels[string(pooled.ID)] != e.label("wrap-rsa") {
		t.Errorf("the pooled legacy pair was not adopted: label %q", labels[string(pooled.ID)])
	}
	if labels[string(stranger.ID)] != "keyport-wrap-rsa-y" || len(objs.LegacyOrphans) != 1 || objs.LegacyOrphans[0].ID != string(stranger.ID) {
		t.Errorf("the unknown legacy pair: label %q, legacy orphans %+v", labels[string(stranger.ID)], objs.LegacyOrphans)
	}
	if recorded, _ := e.st.Meta(ctx, store.MetaMasterSeal); recorded != string(seal) {
		t.Errorf("legacy master seal key %s not adopted (store records %q)", seal, recorded)
	}
	if _, err := e.svc.CreateAccessKey(ctx); err != nil {
		t.Fatal(err)
	}
}

// Processes starting together on one store (replicas) agree on one master
// key of each kind, and no label is left on two objects; separate stores
// on one token get separate master keys.
func TestMasterKeysRacingStarts(t *testing.T) {
	e := newEnv(t)
	e.close()
	ctx := ctxT(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	st, err := bolt.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 6
	svcs := make([]*service.Service, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	var h *hsm.HSM
	for i := range svcs {
		// Each its own connection, as separate processes have.
		if h, err = hsm.Open(ctx, hsm.Config{Module: e.tok.Module, TokenLabel: e.tok.Label, PIN: e.tok.PIN, Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			svcs[i], errs[i] = service.New(ctx, service.Options{Token: h, Store: st, PoolRSA: -1, PoolSM2: -1, PoolRSALarge: -1, CollectEvery: -1, Logger: quiet})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		defer svcs[i].Close()
	}
	ak, err := svcs[0].CreateAccessKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range svcs {
		if secret, err := s.AccessKeySecret(ctx, ak.AccessKeyID); err != nil || string(secret) != ak.AccessKeySecret {
			t.Errorf("start %d does not open what start 0 sealed: %v", i, err)
		}
	}
	objs, err := h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, o := range objs {
		count[o.Label]++
	}
	for label, c := range count {
		if strings.Contains(label, "master") && c != 1 {
			t.Errorf("%d objects labelled %s", c, label)
		}
	}
}

// A master-key label found on the token is adopted only if the key is
// sensitive, never extractable and of the expected type; else start-up
// refuses with a message that says so.
func TestPlantedMasterKeyRefused(t *testing.T) {
	e := newEnv(t)
	e.close()
	ctx := ctxT(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hsm.Open(ctx, hsm.Config{Module: e.tok.Module, TokenLabel: e.tok.Label, PIN: e.tok.PIN, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	value := make([]byte, 32)
	_, _ = rand.Read(value)
	plant(t, e, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, "keyport-master-seal-v1"),
		pkcs11.NewAttribute(pkcs11.CKA_ID, []byte("planted")),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	})
	st, err := bolt.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, _ = st.InitMeta(ctx, store.MetaLegacyObjects, "true")
	_, err = service.New(ctx, service.Options{Token: h, Store: st, PoolRSA: -1, PoolSM2: -1, PoolRSALarge: -1, CollectEvery: -1, Logger: quiet})
	if !errors.Is(err, hsm.ErrUnsafeKey) || !strings.Contains(err.Error(), "never extractable") {
		t.Fatalf("start with a planted master key: %v", err)
	}
	if v, _ := st.Meta(ctx, store.MetaMasterSeal); v != "" {
		t.Fatalf("the planted key was recorded: %s", v)
	}
}

// plant creates a token object beside the layer, as someone holding the
// PIN could, through the module this process already initialised.
func plant(t *testing.T, e *env, tmpl []*pkcs11.Attribute) {
	t.Helper()
	mod := pkcs11.New(e.tok.Module)
	if err := mod.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	slots, err := mod.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if info, err := mod.GetTokenInfo(slot); err != nil || strings.TrimSpace(info.Label) != e.tok.Label {
			continue
		}
		s, err := mod.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer mod.CloseSession(s)
		if err := mod.Login(s, pkcs11.CKU_USER, e.tok.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatal(err)
		}
		if _, err := mod.CreateObject(s, tmpl); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("token %s not found", e.tok.Label)
}
