package service_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service"
)

func TestReimport(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, level := range []service.ProtectionLevel{service.ProtectionSoftware, service.ProtectionHSM} {
		t.Run(string(level), func(t *testing.T) {
			md, material := e.importNew(t, service.SpecAES256, level, service.AlgRSAOAEPSHA1)
			enc, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("before delete")})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.DeleteKeyMaterial(ctx, md.KeyID); err != nil {
				t.Fatal(err)
			}
			if got, _ := e.svc.DescribeKey(ctx, md.KeyID); got.State != service.StatePendingImport {
				t.Fatalf("after DeleteKeyMaterial: %s", got.State)
			}
			if _, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: enc.CiphertextBlob}); !errors.Is(err, service.KindPendingImport) {
				t.Fatalf("decrypt without material: %v", err)
			}
			// Other material is refused; the key stays PendingImport.
			other := make([]byte, 32)
			_, _ = rand.Read(other)
			p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA256})
			if err != nil {
				t.Fatal(err)
			}
			err = e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken,
				EncryptedMaterial: wrapMaterial(t, p.PublicKey, service.AlgRSAOAEPSHA256, other)})
			if !errors.Is(err, service.KindMaterialNotMatch) {
				t.Fatalf("other material: %v", err)
			}
			if got, _ := e.svc.DescribeKey(ctx, md.KeyID); got.State != service.StatePendingImport {
				t.Fatalf("after refused material: %s", got.State)
			}
			// The same material, through another algorithm, brings old blobs back.
			e.importMaterial(t, md.KeyID, service.AlgRSAPKCS1v15, material)
			dec, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
			if err != nil || string(dec.Plaintext) != "before delete" {
				t.Fatalf("old blob after reimport: %v", err)
			}
			// While it has material, other material is refused too.
			err = e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken,
				EncryptedMaterial: wrapMaterial(t, p.PublicKey, service.AlgRSAOAEPSHA256, other)})
			if !errors.Is(err, service.KindMaterialNotMatch) {
				t.Fatalf("other material over present material: %v", err)
			}
		})
	}
}

func TestMaterialExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	material := bytes.Repeat([]byte{3}, 32)
	importWithExpiry := func(exp time.Time) error {
		p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken,
			EncryptedMaterial: wrapMaterial(t, p.PublicKey, service.AlgRSAOAEPSHA1, material), MaterialExpires: exp})
	}
	if err := importWithExpiry(e.clock.Now().Add(-time.Second)); !errors.Is(err, service.KindInvalidParameter) {
		t.Fatalf("expiry in the past: %v", err)
	}
	if err := importWithExpiry(e.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	enc, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	objects := countObjects(t, e.h, e.label("material/"))
	e.clock.Advance(time.Hour)
	// Checked on use, before any collector ran.
	if _, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("p")}); !errors.Is(err, service.KindPendingImport) {
		t.Fatalf("encrypt after material expiry: %v", err)
	}
	if got, _ := e.svc.DescribeKey(ctx, md.KeyID); got.State != service.StatePendingImport || !got.MaterialExpires.IsZero() {
		t.Fatalf("describe after expiry: %+v", got)
	}
	st, err := e.svc.Collect(ctx)
	if err != nil || st.Materials != 1 {
		t.Fatalf("collect: %+v %v", st, err)
	}
	if now := countObjects(t, e.h, e.label("material/")); now != objects-1 {
		t.Fatalf("material object not destroyed: %d → %d", objects, now)
	}
	if err := importWithExpiry(time.Time{}); err != nil {
		t.Fatalf("reimport after expiry: %v", err)
	}
	if _, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: enc.CiphertextBlob}); err != nil {
		t.Fatalf("old blob after reimport: %v", err)
	}
}

// HSM-level material is a sensitive, never-extractable token object, and
// the store file holds no material, no data key and no plaintext.
func TestNothingSecretOutsideTheHSM(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	var secrets [][]byte
	for _, level := range []service.ProtectionLevel{service.ProtectionSoftware, service.ProtectionHSM} {
		for _, spec := range []service.KeySpec{service.SpecAES256, service.SpecSM4} {
			md, material := e.importNew(t, spec, level, service.AlgRSAOAEPSHA256)
			secrets = append(secrets, material)
			dk, err := e.svc.GenerateDataKey(ctx, service.GenerateDataKeyRequest{KeyID: md.KeyID})
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, dk.Plaintext)
		}
	}
	objs, err := e.h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	materials := 0
	for _, o := range objs {
		if o.Class != "secret-key" && o.Class != "private-key" {
			continue
		}
		if !*o.Sensitive || *o.Extractable {
			t.Errorf("%s %s is extractable or not sensitive", o.Class, o.Label)
		}
		// Imported material came from outside (its owner holds it), so the
		// token cannot call it never-extractable; everything made inside can.
		if strings.HasPrefix(o.Label, e.label("material/")) {
			materials++
		} else if !*o.NeverExtractable {
			t.Errorf("%s %s is not never-extractable", o.Class, o.Label)
		}
	}
	if materials != 1 {
		t.Fatalf("%d material objects, want 1 (HSM-level AES)", materials)
	}
	e.close()
	db, err := os.ReadFile(filepath.Join(e.dir, "keyport.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(db, s) {
			t.Fatalf("store file contains secret bytes %x", s)
		}
	}
}
