package service_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/keyport-kms/keyport/asymkey"
	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/service"
)

// Asymmetric private keys made here are imported in every envelope that
// carries them, at both levels where the token can: each then signs (or
// decrypts) as the original key, its public half is the original's, a
// re-import takes only the same key, and a wrong key, a changed envelope
// or an algorithm for symmetric material are refused with their kinds.
func TestImportPrivateKeys(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	digest := sha256.Sum256([]byte("signed with an imported key"))
	cases := []struct {
		spec  service.KeySpec
		key   asymkey.Spec
		usage service.KeyUsage
		alg   service.WrappingAlgorithm
		wspec service.WrappingKeySpec
	}{
		{service.SpecRSA2048, asymkey.RSA2048, service.UsageSignVerify, service.AlgRSAOAEPAES256ECB, service.WrappingRSA2048},
		{service.SpecRSA2048, asymkey.RSA2048, service.UsageEncryptDecrypt, service.AlgRSAAESKeyWrapSHA256, service.WrappingRSA3072},
		{service.SpecECP256, asymkey.ECP256, service.UsageSignVerify, service.AlgRSAAESKeyWrapSHA1, service.WrappingRSA2048},
		{service.SpecECP256K, asymkey.ECP256K, service.UsageSignVerify, service.AlgRSAOAEPAES256ECB, service.WrappingRSA2048},
		{service.SpecECSM2, asymkey.SM2, service.UsageEncryptDecrypt, service.AlgSM2SM4ECB, service.WrappingSM2},
		{service.SpecECSM2, asymkey.SM2, service.UsageSignVerify, service.AlgRSAAESKeyWrapSHA256, service.WrappingRSA2048},
	}
	for _, c := range cases {
		for _, level := range []service.ProtectionLevel{service.ProtectionHSM, service.ProtectionSoftware} {
			name := fmt.Sprintf("%s %s %s %s", c.spec, c.usage, level, c.alg)
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: c.spec, Usage: c.usage, Origin: service.OriginExternal, Protection: level})
			if c.spec == service.SpecECSM2 && c.usage == service.UsageSignVerify && level == service.ProtectionHSM {
				if !errors.Is(err, service.KindUnsupportedAlgorithm) {
					t.Errorf("%s: %v (SoftHSM2 cannot sign SM2DSA)", name, err)
				}
				continue
			}
			if c.alg == service.AlgSM2SM4ECB && level == service.ProtectionSoftware {
				if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: c.wspec, Algorithm: c.alg}); !errors.Is(err, service.KindUnsupportedProtectionLevel) {
					t.Errorf("%s: %v", name, err)
				}
				continue
			}
			if err != nil || md.State != service.StatePendingImport {
				t.Fatalf("%s: %+v %v", name, md, err)
			}
			priv := must(asymkey.Generate(c.key))
			der := must(priv.MarshalPKCS8())
			wantPub := must(priv.Public().MarshalPKIX())
			importKey := func(der []byte, change int) error {
				p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: c.wspec, Algorithm: c.alg})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				ct := must(byok.WrapPrivateKey(p.PublicKey, string(c.alg), der))
				if change != 0 {
					ct[(change+len(ct))%len(ct)] ^= 1
				}
				return e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, EncryptedMaterial: ct, ImportToken: p.ImportToken})
			}
			// A change to the encrypted ephemeral key, and, where the envelope
			// can tell (SM4-ECB of a bare scalar cannot), to the key under it.
			changes := []int{5, -2}
			if c.alg == service.AlgSM2SM4ECB {
				changes = changes[:1]
			}
			for _, at := range changes {
				if err := importKey(der, at); !errors.Is(err, service.KindInvalidKeyMaterial) {
					t.Fatalf("%s: an envelope changed at %d: %v", name, at, err)
				}
			}
			if c.key != asymkey.SM2 { // a key of another spec (SM2PKE_SM4_ECB carries SM2 keys alone)
				other := must(must(asymkey.Generate(map[bool]asymkey.Spec{true: asymkey.ECP256, false: asymkey.RSA2048}[c.key == asymkey.RSA2048])).MarshalPKCS8())
				if err := importKey(other, 0); !errors.Is(err, service.KindInvalidKeyMaterial) {
					t.Fatalf("%s: a key of another spec: %v", name, err)
				}
			}
			if err := importKey(der, 0); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			pk, err := e.svc.PublicKeyOf(ctx, md.KeyID, "")
			if err != nil || !bytes.Equal(pk.DER, wantPub) {
				t.Fatalf("%s: the public key is not the imported key's: %v", name, err)
			}
			pub := must(asymkey.ParsePKIX(wantPub))
			if c.usage == service.UsageSignVerify {
				alg := service.SignAlgorithmsOf(c.spec)[0]
				res, err := e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, Algorithm: alg, Digest: digest[:]})
				if err != nil {
					t.Fatalf("%s: sign: %v", name, err)
				}
				scheme := map[service.SignAlgorithm]asymkey.Scheme{service.SignRSAPSSSHA256: asymkey.PSS, service.SignECDSASHA256: asymkey.ECDSA, service.SignSM2DSA: asymkey.SM2DSA}[alg]
				if !pub.Verify(scheme, digest[:], res.Signature) {
					t.Fatalf("%s: the signature does not check against the original key", name)
				}
			} else {
				alg := service.EncryptionAlgorithmsOf(c.spec)[0]
				cipher := map[service.EncryptionAlgorithm]asymkey.Cipher{service.EncRSAOAEPSHA256: asymkey.OAEPSHA256, service.EncSM2PKE: asymkey.SM2PKE}[alg]
				ct := must(pub.Encrypt(cipher, []byte("to the original key")))
				res, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: alg, Ciphertext: ct})
				if err != nil || string(res.Data) != "to the original key" {
					t.Fatalf("%s: decrypt: %v", name, err)
				}
			}
			// The same key again is accepted; another is not.
			if err := importKey(der, 0); err != nil {
				t.Fatalf("%s: the same key again: %v", name, err)
			}
			if err := importKey(must(must(asymkey.Generate(c.key)).MarshalPKCS8()), 0); !errors.Is(err, service.KindMaterialNotMatch) {
				t.Fatalf("%s: another key: %v", name, err)
			}
		}
	}
	// Symmetric material's algorithms do not carry a private key, nor the
	// private-key envelopes symmetric material.
	asym := must(e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: service.SpecRSA2048, Usage: service.UsageSignVerify, Origin: service.OriginExternal}))
	sym := must(e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal}))
	for key, alg := range map[string]service.WrappingAlgorithm{asym.KeyID: service.AlgRSAOAEPSHA256, sym.KeyID: service.AlgRSAOAEPAES256ECB} {
		if _, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: key, Spec: service.WrappingRSA2048, Algorithm: alg}); !errors.Is(err, service.KindInvalidParameter) {
			t.Errorf("%s for key %s: %v", alg, key, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
