package service_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store"
)

func TestKeyLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	id := md.KeyID
	enc := func() error {
		_, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: id, Plaintext: []byte("x")})
		return err
	}
	steps := []struct {
		name string
		do   func() error
		want service.Kind // of the step; -1 = success
		st   service.KeyState
		enc  service.Kind // of an Encrypt afterwards; -1 = success
	}{
		{"disable", func() error { return e.svc.DisableKey(ctx, id) }, -1, service.StateDisabled, service.KindDisabled},
		{"disable again", func() error { return e.svc.DisableKey(ctx, id) }, -1, service.StateDisabled, service.KindDisabled},
		{"enable", func() error { return e.svc.EnableKey(ctx, id) }, -1, service.StateEnabled, -1},
		{"window too short", func() error { _, err := e.svc.ScheduleKeyDeletion(ctx, id, 6); return err }, service.KindInvalidParameter, service.StateEnabled, -1},
		{"window too long", func() error { _, err := e.svc.ScheduleKeyDeletion(ctx, id, 367); return err }, service.KindInvalidParameter, service.StateEnabled, -1},
		{"cancel when not pending", func() error { return e.svc.CancelKeyDeletion(ctx, id) }, service.KindNotPendingDeletion, service.StateEnabled, -1},
		{"schedule", func() error { _, err := e.svc.ScheduleKeyDeletion(ctx, id, 7); return err }, -1, service.StatePendingDeletion, service.KindPendingDeletion},
		{"schedule again", func() error { _, err := e.svc.ScheduleKeyDeletion(ctx, id, 7); return err }, service.KindStateConflict, service.StatePendingDeletion, service.KindPendingDeletion},
		{"enable while pending", func() error { return e.svc.EnableKey(ctx, id) }, service.KindStateConflict, service.StatePendingDeletion, service.KindPendingDeletion},
		{"cancel", func() error { return e.svc.CancelKeyDeletion(ctx, id) }, -1, service.StateEnabled, -1},
	}
	for _, s := range steps {
		err := s.do()
		if (s.want < 0) != (err == nil) || (s.want >= 0 && !errors.Is(err, s.want)) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
		got, _ := e.svc.DescribeKey(ctx, id)
		if got.State != s.st {
			t.Fatalf("%s: state %s, want %s", s.name, got.State, s.st)
		}
		if err := enc(); (s.enc < 0) != (err == nil) || (s.enc >= 0 && !errors.Is(err, s.enc)) {
			t.Fatalf("%s: encrypt %v, want %v", s.name, err, s.enc)
		}
	}

	// Past its deletion date the key is gone at once, and the collector
	// destroys its token object.
	md2, err := e.svc.ScheduleKeyDeletion(ctx, id, 7)
	if err != nil || md2.DeleteDate.Sub(e.clock.Now()) != 7*24*time.Hour {
		t.Fatalf("schedule: %+v %v", md2, err)
	}
	objects := countObjects(t, e.h, e.label("material/"))
	e.clock.Advance(7*24*time.Hour + time.Second)
	if _, err := e.svc.DescribeKey(ctx, id); !errors.Is(err, service.KindNotFound) {
		t.Fatalf("after deletion date: %v", err)
	}
	if st, err := e.svc.Collect(ctx); err != nil || st.Keys != 1 {
		t.Fatalf("collect: %+v %v", st, err)
	}
	if now := countObjects(t, e.h, e.label("material/")); now != objects-1 {
		t.Fatalf("material object of the deleted key remains: %d → %d", objects, now)
	}
	if err := e.svc.CancelKeyDeletion(ctx, id); !errors.Is(err, service.KindNotFound) {
		t.Fatalf("cancel after deletion: %v", err)
	}
}

func TestPendingImportTransitions(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.EnableKey(ctx, md.KeyID); !errors.Is(err, service.KindStateConflict) {
		t.Fatalf("enable without material: %v", err)
	}
	if _, err := e.svc.ScheduleKeyDeletion(ctx, md.KeyID, 30); err != nil {
		t.Fatal(err)
	}
	// As on Alibaba Cloud, material goes from a key pending deletion, which stays so.
	if err := e.svc.DeleteKeyMaterial(ctx, md.KeyID); err != nil {
		t.Fatalf("delete material while pending deletion: %v", err)
	}
	if got, _ := e.svc.DescribeKey(ctx, md.KeyID); got.State != service.StatePendingDeletion {
		t.Fatalf("state after deleting material while pending deletion: %s", got.State)
	}
	if err := e.svc.CancelKeyDeletion(ctx, md.KeyID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.DescribeKey(ctx, md.KeyID); got.State != service.StatePendingImport {
		t.Fatalf("cancelled deletion of a key without material: %s", got.State)
	}
	kms, _ := e.svc.CreateKey(ctx, service.CreateKeyRequest{})
	if err := e.svc.DeleteKeyMaterial(ctx, kms.KeyID); !errors.Is(err, service.KindUnsupportedOrigin) {
		t.Fatalf("delete material of a KMS key: %v", err)
	}
}

func TestCreateKeyValidationAndList(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, req := range []service.CreateKeyRequest{
		{Spec: "RSA_1024"}, {Spec: "EC_P256"}, {Usage: "SIGN/VERIFY"}, {Origin: "Tencent"}, {Protection: "hsm"},
	} {
		if _, err := e.svc.CreateKey(ctx, req); !errors.Is(err, service.KindInvalidParameter) {
			t.Fatalf("%+v: %v", req, err)
		}
	}
	var ids []string
	for i := 0; i < 12; i++ {
		md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Description: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, md.KeyID)
		e.clock.Advance(time.Millisecond)
	}
	page, err := e.svc.ListKeys(ctx, service.ListKeysRequest{PageNumber: 2, PageSize: 5})
	if err != nil || page.TotalCount != 12 || len(page.Keys) != 5 || page.Keys[0].KeyID != ids[5] {
		t.Fatalf("page 2: %+v %v", page, err)
	}
	if page, _ := e.svc.ListKeys(ctx, service.ListKeysRequest{PageNumber: 3, PageSize: 5}); len(page.Keys) != 2 {
		t.Fatalf("page 3: %d keys", len(page.Keys))
	}
	if page, _ := e.svc.ListKeys(ctx, service.ListKeysRequest{Offset: 11, PageSize: 5}); len(page.Keys) != 1 || page.Keys[0].KeyID != ids[11] {
		t.Fatalf("offset 11: %+v", page)
	}
	for _, req := range []service.ListKeysRequest{{PageNumber: -1}, {PageSize: 201}, {PageSize: -1}, {Offset: -1}} {
		if _, err := e.svc.ListKeys(ctx, req); !errors.Is(err, service.KindInvalidParameter) {
			t.Fatalf("%+v: %v", req, err)
		}
	}
}

func TestEncryptLimits(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	md, _ := e.svc.CreateKey(ctx, service.CreateKeyRequest{})
	for name, tc := range map[string]struct {
		req  service.EncryptRequest
		kind service.Kind
	}{
		"empty":    {service.EncryptRequest{KeyID: md.KeyID}, service.KindInvalidParameter},
		"too long": {service.EncryptRequest{KeyID: md.KeyID, Plaintext: make([]byte, 6*1024+1)}, service.KindInvalidParameter},
		"no key":   {service.EncryptRequest{Plaintext: []byte("x")}, service.KindInvalidParameter},
		"unknown":  {service.EncryptRequest{KeyID: "nope", Plaintext: []byte("x")}, service.KindNotFound},
	} {
		if _, err := e.svc.Encrypt(ctx, tc.req); !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v, want %v", name, err, tc.kind)
		}
	}
	if _, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: make([]byte, 6*1024)}); err != nil {
		t.Fatalf("6 KiB: %v", err)
	}
	for _, tc := range []struct {
		req  service.GenerateDataKeyRequest
		n    int
		kind service.Kind
	}{
		{service.GenerateDataKeyRequest{KeySpec: "AES_128"}, 16, -1},
		{service.GenerateDataKeyRequest{NumberOfBytes: 1}, 1, -1},
		{service.GenerateDataKeyRequest{NumberOfBytes: 1024}, 1024, -1},
		{service.GenerateDataKeyRequest{NumberOfBytes: 1025}, 0, service.KindInvalidParameter},
		{service.GenerateDataKeyRequest{KeySpec: "AES_512"}, 0, service.KindInvalidParameter},
	} {
		tc.req.KeyID = md.KeyID
		dk, err := e.svc.GenerateDataKey(ctx, tc.req)
		if tc.kind >= 0 {
			if !errors.Is(err, tc.kind) {
				t.Errorf("%+v: %v", tc.req, err)
			}
			continue
		}
		if err != nil || len(dk.Plaintext) != tc.n {
			t.Errorf("%+v: %v", tc.req, err)
		}
	}
	// Blobs that are not Keyport's, or are cut, are InvalidCiphertext.
	enc, _ := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	for name, blob := range map[string][]byte{
		"empty": nil, "junk": []byte("not a blob at all, not at all"), "cut": enc.CiphertextBlob[:len(enc.CiphertextBlob)-1],
		"version": append([]byte{2}, enc.CiphertextBlob[1:]...),
	} {
		if _, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: blob}); !errors.Is(err, service.KindInvalidCiphertext) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestAutomaticRotation: the collector rotates a key whose interval has
// passed on the injected clock; every version's ciphertext decrypts.
func TestAutomaticRotation(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, level := range []service.ProtectionLevel{service.ProtectionSoftware, service.ProtectionHSM} {
		md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Protection: level, AutoRotate: true, RotationInterval: 7 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		v1, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("v1")})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(6 * 24 * time.Hour)
		if st, err := e.svc.Collect(ctx); err != nil || st.Rotated != 0 {
			t.Fatalf("%s: collect before the interval: %+v, %v", level, st, err)
		}
		e.clock.Advance(2 * 24 * time.Hour)
		if st, err := e.svc.Collect(ctx); err != nil || st.Rotated < 1 { // the earlier level's key may be due again
			t.Fatalf("%s: collect after the interval: %+v, %v", level, st, err)
		}
		v2, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("v2")})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := e.svc.DescribeKey(ctx, md.KeyID)
		if v2.KeyVersionID == v1.KeyVersionID || after.KeyVersionID != v2.KeyVersionID || !after.LastRotation.Equal(e.clock.Now().UTC()) {
			t.Fatalf("%s: after rotation: v1 %s, v2 %s, %+v", level, v1.KeyVersionID, v2.KeyVersionID, after)
		}
		// Each version has material of its own: for an HSM-level key a
		// token object each, every one indexed as the key's.
		k, err := e.st.GetKey(ctx, md.KeyID)
		if err != nil || len(k.Versions) != 1 {
			t.Fatalf("%s: versions %+v, %v", level, k, err)
		}
		if level == service.ProtectionHSM && (k.HSMObject == "" || k.HSMObject == k.Versions[0].HSMObject) {
			t.Fatalf("%s: versions share token object %q", level, k.HSMObject)
		}
		if level == service.ProtectionSoftware && bytes.Equal(k.SealedMat, k.Versions[0].SealedMat) {
			t.Fatalf("%s: versions share sealed material", level)
		}
		for want, blob := range map[string][]byte{"v1": v1.CiphertextBlob, "v2": v2.CiphertextBlob} {
			got, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: blob})
			if err != nil || string(got.Plaintext) != want {
				t.Fatalf("%s: decrypt %s: %v %q", level, want, err, got)
			}
		}
		if st, err := e.svc.Collect(ctx); err != nil || st.Rotated != 0 {
			t.Fatalf("%s: a second collect rotated again: %+v, %v", level, st, err)
		}
	}
}

// TestVersionBounds: a key's first CreateKeyVersion comes at once, the next
// only MinVersionInterval after the last; at most store.MaxKeyVersions
// versions, for manual and automatic rotation alike; a refused rotation
// leaves no token object behind.
func TestVersionBounds(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RotateKey(ctx, md.KeyID); err != nil {
		t.Fatalf("first rotation of a new key: %v", err)
	}
	objects := countObjects(t, e.h, e.label("material/"))
	if _, err := e.svc.RotateKey(ctx, md.KeyID); service.KindOf(err) != service.KindVersionTooSoon {
		t.Fatalf("second rotation at once: %v", err)
	}
	if n := countObjects(t, e.h, e.label("material/")); n != objects {
		t.Fatalf("a refused rotation left token objects: %d, was %d", n, objects)
	}
	e.clock.Advance(7*24*time.Hour - time.Second)
	if _, err := e.svc.RotateKey(ctx, md.KeyID); service.KindOf(err) != service.KindVersionTooSoon {
		t.Fatalf("rotation a second before the interval: %v", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.svc.RotateKey(ctx, md.KeyID); err != nil {
		t.Fatalf("rotation after the interval: %v", err)
	}

	// The cap, with the interval passing each time; then automatic
	// rotation stops too.
	sw, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Protection: service.ProtectionSoftware, AutoRotate: true, RotationInterval: 7 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < store.MaxKeyVersions; i++ {
		if _, err := e.svc.RotateKey(ctx, sw.KeyID); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		e.clock.Advance(7 * 24 * time.Hour)
	}
	if _, err := e.svc.RotateKey(ctx, sw.KeyID); service.KindOf(err) != service.KindVersionLimit {
		t.Fatalf("rotation past %d versions: %v", store.MaxKeyVersions, err)
	}
	e.clock.Advance(30 * 24 * time.Hour)
	if _, err := e.svc.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	versions, err := e.svc.ListKeyVersions(ctx, sw.KeyID)
	if err != nil || len(versions) != store.MaxKeyVersions {
		t.Fatalf("versions after automatic rotation at the cap: %d, %v", len(versions), err)
	}
}

// A key pending deletion keeps its names (it may be cancelled back under
// them); once past its deletion date it holds them no longer, before the
// collector has destroyed it.
func TestAliasOfDeletedKey(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	old, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Alias: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CreateAlias(ctx, "alias/app", old.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ScheduleKeyDeletion(ctx, old.KeyID, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Alias: "app"}); !errors.Is(err, service.KindAliasExists) {
		t.Fatalf("the name of a key pending deletion: %v", err)
	}
	e.clock.Advance(7*24*time.Hour + time.Second)
	next, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Alias: "app"})
	if err != nil {
		t.Fatalf("the name of a deleted key: %v", err)
	}
	if err := e.svc.CreateAlias(ctx, "alias/app", next.KeyID); err != nil {
		t.Fatalf("the alias of a deleted key: %v", err)
	}
	if _, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Alias: "app"}); !errors.Is(err, service.KindAliasExists) {
		t.Fatalf("a name taken again: %v", err)
	}
}
