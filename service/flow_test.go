package service_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/keyport-kms/keyport/service"
)

var allowed = []struct {
	spec  service.KeySpec
	level service.ProtectionLevel
	alg   service.WrappingAlgorithm
}{}

func init() {
	for _, spec := range []service.KeySpec{service.SpecAES256, service.SpecSM4} {
		for _, level := range []service.ProtectionLevel{service.ProtectionSoftware, service.ProtectionHSM} {
			for _, alg := range []service.WrappingAlgorithm{service.AlgRSAPKCS1v15, service.AlgRSAOAEPSHA1, service.AlgRSAOAEPSHA256, service.AlgSM2PKE, service.AlgRSAAESKeyWrapSHA1, service.AlgRSAAESKeyWrapSHA256} {
				if alg == service.AlgSM2PKE && level != service.ProtectionHSM {
					continue
				}
				allowed = append(allowed, struct {
					spec  service.KeySpec
					level service.ProtectionLevel
					alg   service.WrappingAlgorithm
				}{spec, level, alg})
			}
		}
	}
}

// The whole BYOK flow for every allowed spec × protection level × wrapping
// algorithm.
func TestFullImportFlow(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, tc := range allowed {
		t.Run(fmt.Sprintf("%s/%s/%s", tc.spec, tc.level, tc.alg), func(t *testing.T) {
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: tc.spec, Origin: service.OriginExternal, Protection: tc.level, Description: "byok"})
			if err != nil {
				t.Fatal(err)
			}
			if md.State != service.StatePendingImport {
				t.Fatalf("new EXTERNAL key is %s", md.State)
			}
			if _, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")}); !errors.Is(err, service.KindPendingImport) {
				t.Fatalf("encrypt before import: %v", err)
			}
			material := bytes.Repeat([]byte{0x42}, tc.spec.MaterialSize())
			e.importMaterial(t, md.KeyID, tc.alg, material)
			md, err = e.svc.DescribeKey(ctx, md.KeyID)
			if err != nil || md.State != service.StateEnabled {
				t.Fatalf("after import: %+v, %v", md, err)
			}
			ec := map[string]string{"purpose": "test", "tenant": "a"}
			enc, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("hello byok"), Context: ec})
			if err != nil {
				t.Fatal(err)
			}
			// The same context in another order decrypts; another context does not.
			dec, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, Context: map[string]string{"tenant": "a", "purpose": "test"}})
			if err != nil || string(dec.Plaintext) != "hello byok" || dec.KeyID != md.KeyID {
				t.Fatalf("decrypt: %+v, %v", dec, err)
			}
			if _, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, Context: map[string]string{"tenant": "b", "purpose": "test"}}); !errors.Is(err, service.KindInvalidCiphertext) {
				t.Fatalf("decrypt with another context: %v", err)
			}
			// The blob decrypts with nothing but the raw material.
			if pt := decryptWithMaterial(t, enc.CiphertextBlob, material, ec); string(pt) != "hello byok" {
				t.Fatalf("raw decryption: %q", pt)
			}
			dk, err := e.svc.GenerateDataKey(ctx, service.GenerateDataKeyRequest{KeyID: md.KeyID, Context: ec})
			if err != nil || len(dk.Plaintext) != 32 {
				t.Fatalf("data key: %v", err)
			}
			dec, err = e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: dk.CiphertextBlob, Context: ec})
			if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
				t.Fatalf("data key decrypt: %v", err)
			}
		})
	}
}

// Keyport-made keys at both levels and specs encrypt and decrypt.
func TestKMSOriginKeys(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	for _, spec := range []service.KeySpec{service.SpecAES256, service.SpecSM4} {
		for _, level := range []service.ProtectionLevel{service.ProtectionSoftware, service.ProtectionHSM} {
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: spec, Protection: level})
			if err != nil || md.State != service.StateEnabled || md.Origin != service.OriginKMS {
				t.Fatalf("%s/%s: %+v %v", spec, level, md, err)
			}
			enc, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("p")})
			if err != nil {
				t.Fatal(err)
			}
			if dec, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "p" {
				t.Fatalf("%s/%s decrypt: %v", spec, level, err)
			}
			if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA256}); !errors.Is(err, service.KindUnsupportedOrigin) {
				t.Fatalf("import params for a KMS key: %v", err)
			}
		}
	}
}
