package service_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service"
)

// Wrapping keys of 3072 and 4096 bits, beyond both clouds' 2048: each
// issues with the algorithms that go with it, the material imports into
// both levels and encrypts, and the pool keeps the larger specs stocked.
func TestLargerWrappingKeys(t *testing.T) {
	e := newEnv(t, func(o *service.Options) { o.PoolRSALarge = 1 })
	ctx := ctxT(t)
	cases := []struct {
		spec service.WrappingKeySpec
		alg  service.WrappingAlgorithm
	}{
		{service.WrappingRSA3072, service.AlgRSAAESKeyWrapSHA256},
		{service.WrappingRSA3072, service.AlgRSAOAEPSHA1},
		{service.WrappingRSA4096, service.AlgRSAAESKeyWrapSHA1},
		{service.WrappingRSA4096, service.AlgRSAOAEPSHA256},
	}
	for _, c := range cases {
		for _, level := range []service.ProtectionLevel{service.ProtectionHSM, service.ProtectionSoftware} {
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: level})
			if err != nil {
				t.Fatal(err)
			}
			material := make([]byte, 32)
			_, _ = rand.Read(material)
			p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: c.spec, Algorithm: c.alg})
			if err != nil {
				t.Fatalf("%s %s: %v", c.spec, c.alg, err)
			}
			if got := mustRSA(t, p.PublicKey).N.BitLen(); got != map[service.WrappingKeySpec]int{service.WrappingRSA3072: 3072, service.WrappingRSA4096: 4096}[c.spec] {
				t.Fatalf("%s: a %d-bit key", c.spec, got)
			}
			ct := wrapMaterial(t, p.PublicKey, c.alg, material)
			bad := bytes.Clone(ct)
			bad[len(bad)-3] ^= 1
			if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, EncryptedMaterial: bad, ImportToken: p.ImportToken}); !errors.Is(err, service.KindInvalidKeyMaterial) {
				t.Fatalf("%s %s %s: a changed envelope: %v", c.spec, c.alg, level, err)
			}
			if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, EncryptedMaterial: ct, ImportToken: p.ImportToken}); err != nil {
				t.Fatalf("%s %s %s: %v", c.spec, c.alg, level, err)
			}
			enc, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("wrapped large")})
			if err != nil {
				t.Fatal(err)
			}
			if pt := decryptWithMaterial(t, enc.CiphertextBlob, material, nil); string(pt) != "wrapped large" {
				t.Fatalf("%s %s %s: the imported material is not the material", c.spec, c.alg, level)
			}
		}
	}
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []service.GetParametersForImportRequest{
		{Spec: service.WrappingRSA3072, Algorithm: service.AlgRSAPKCS1v15}, // deprecated: 2048 only
		{Spec: service.WrappingSM2, Algorithm: service.AlgRSAAESKeyWrapSHA256},
		{Spec: "RSA_1024", Algorithm: service.AlgRSAOAEPSHA256},
	} {
		bad.KeyID = md.KeyID
		if _, err := e.svc.GetParametersForImport(ctx, bad); !errors.Is(err, service.KindInvalidParameter) {
			t.Errorf("%s with %s: %v", bad.Algorithm, bad.Spec, err)
		}
	}
	// The refiller stocks each larger spec.
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := e.svc.PoolStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pooled[service.WrappingRSA3072] >= 1 && st.Pooled[service.WrappingRSA4096] >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool holds %v", st.Pooled)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
