package service_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
)

// Every asymmetric spec, at both protection levels, signs with each of its
// algorithms; the signature checks against the public key GetPublicKey
// gives and through Verify; what a key may not do is refused with its own
// kind and changes nothing.
func TestSigningKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	digest := sha256.Sum256([]byte("a release to sign"))
	other := sha256.Sum256([]byte("another release"))
	specs := []service.KeySpec{service.SpecRSA2048, service.SpecRSA3072, service.SpecRSA4096, service.SpecECP256, service.SpecECP256K, service.SpecECSM2}
	for _, spec := range specs {
		for _, level := range []service.ProtectionLevel{service.ProtectionHSM, service.ProtectionSoftware} {
			if testing.Short() && spec == service.SpecRSA4096 {
				continue
			}
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: spec, Usage: service.UsageSignVerify, Protection: level})
			if spec == service.SpecECSM2 && level == service.ProtectionHSM {
				// SoftHSM2 has no SM2 signing mechanism: the probe says so.
				if !errors.Is(err, service.KindUnsupportedAlgorithm) {
					t.Errorf("an HSM-level SM2 signing key on SoftHSM2: %v", err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s %s: %v", spec, level, err)
			}
			if md.Spec != spec || md.Usage != service.UsageSignVerify || md.State != service.StateEnabled {
				t.Fatalf("%s %s: metadata %+v", spec, level, md)
			}
			pk, err := e.svc.PublicKeyOf(ctx, md.KeyID, md.KeyVersionID)
			if err != nil {
				t.Fatal(err)
			}
			for _, alg := range service.SignAlgorithmsOf(spec) {
				res, err := e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, KeyVersionID: md.KeyVersionID, Algorithm: alg, Digest: digest[:]})
				if err != nil {
					t.Fatalf("%s %s %s: %v", spec, level, alg, err)
				}
				hAlg := map[service.SignAlgorithm]hsm.SignAlgorithm{service.SignRSAPSSSHA256: hsm.RSAPSSSHA256, service.SignRSAPKCS1SHA256: hsm.RSAPKCS1SHA256, service.SignECDSASHA256: hsm.ECDSASHA256, service.SignSM2DSA: hsm.SM2DSA}[alg]
				if ok, err := hsm.Verify(pk.DER, hAlg, digest[:], res.Signature); !ok || err != nil {
					t.Errorf("%s %s %s: the signature does not check against the public key (%v)", spec, level, alg, err)
				}
				for d, want := range map[[32]byte]bool{digest: true, other: false} {
					ok, _, err := e.svc.Verify(ctx, service.VerifyRequest{KeyID: md.KeyID, Algorithm: alg, Digest: d[:], Signature: res.Signature})
					if err != nil || ok != want {
						t.Errorf("%s %s %s: Verify %v, %v; want %v", spec, level, alg, ok, err, want)
					}
				}
			}
			// Refusals, each with its kind.
			type refusal struct {
				what string
				kind service.Kind
				err  error
			}
			var refusals []refusal
			wrong := service.SignECDSASHA256
			if spec != service.SpecRSA2048 && spec != service.SpecRSA3072 && spec != service.SpecRSA4096 {
				wrong = service.SignRSAPSSSHA256
			}
			_, err = e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, Algorithm: wrong, Digest: digest[:]})
			refusals = append(refusals, refusal{"wrong algorithm", service.KindInvalidParameter, err})
			_, err = e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, Algorithm: service.SignAlgorithmsOf(spec)[0], Digest: digest[:31]})
			refusals = append(refusals, refusal{"short digest", service.KindInvalidParameter, err})
			_, err = e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, KeyVersionID: "nope", Algorithm: service.SignAlgorithmsOf(spec)[0], Digest: digest[:]})
			refusals = append(refusals, refusal{"other version", service.KindVersionNotFound, err})
			_, err = e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
			refusals = append(refusals, refusal{"Encrypt", service.KindInvalidKeyUsage, err})
			_, err = e.svc.GenerateDataKey(ctx, service.GenerateDataKeyRequest{KeyID: md.KeyID})
			refusals = append(refusals, refusal{"GenerateDataKey", service.KindInvalidKeyUsage, err})
			_, err = e.svc.RotateKey(ctx, md.KeyID)
			refusals = append(refusals, refusal{"RotateKey", service.KindInvalidKeyUsage, err})
			for _, r := range refusals {
				if !errors.Is(r.err, r.kind) {
					t.Errorf("%s %s, %s: %v, want %v", spec, level, r.what, r.err, r.kind)
				}
			}
			if err := e.svc.DisableKey(ctx, md.KeyID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, Algorithm: service.SignAlgorithmsOf(spec)[0], Digest: digest[:]}); !errors.Is(err, service.KindDisabled) {
				t.Errorf("%s %s: Sign with a disabled key: %v", spec, level, err)
			}
		}
	}
	// Past its deletion date an HSM-level signing key's pair, both halves,
	// is destroyed by the collector.
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: service.SpecECP256, Usage: service.UsageSignVerify, Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, e.h, e.label("material/"))
	if _, err := e.svc.ScheduleKeyDeletion(ctx, md.KeyID, 7); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(7*24*time.Hour + time.Second)
	if _, err := e.svc.Collect(ctx); err != nil {
		t.Fatal(err)
	}
	if after := countObjects(t, e.h, e.label("material/")); after != before-2 {
		t.Errorf("the deleted signing key's objects: %d → %d, want both halves gone", before, after)
	}
	// A symmetric key does not sign; an asymmetric spec needs a usage it
	// has, and asymmetric keys do not rotate.
	sym, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Sign(ctx, service.SignRequest{KeyID: sym.KeyID, Algorithm: service.SignRSAPSSSHA256, Digest: digest[:]}); !errors.Is(err, service.KindInvalidKeyUsage) {
		t.Errorf("Sign with a symmetric key: %v", err)
	}
	for what, req := range map[string]service.CreateKeyRequest{
		"ENCRYPT/DECRYPT EC key": {Spec: service.SpecECP256, Usage: service.UsageEncryptDecrypt},
		"SIGN/VERIFY AES key":    {Spec: service.SpecAES256, Usage: service.UsageSignVerify},
		"rotating RSA key":       {Spec: service.SpecRSA2048, Usage: service.UsageSignVerify, AutoRotate: true},
		"ENCRYPT/DECRYPT P256K":  {Spec: service.SpecECP256K, Usage: service.UsageEncryptDecrypt},
		"P-384 (not served)":     {Spec: "EC_P384", Usage: service.UsageSignVerify},
	} {
		if _, err := e.svc.CreateKey(ctx, req); err == nil || errors.Is(err, service.KindInternal) {
			t.Errorf("CreateKey %s: %v, want a refusal", what, err)
		}
	}
}

// Every RSA spec, as an ENCRYPT/DECRYPT key at both protection levels,
// decrypts what was encrypted to its public half with each algorithm —
// by the caller with Go's crypto and by AsymmetricEncrypt — within the
// documented plaintext limits; bad ciphertexts, the wrong algorithm and
// the other purpose's actions are refused with their kinds.
func TestDecryptingKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	specs := []service.KeySpec{service.SpecRSA2048, service.SpecRSA3072, service.SpecRSA4096}
	if testing.Short() {
		specs = specs[:1]
	}
	if got := service.MaxAsymmetricPlaintext(service.SpecRSA2048, service.EncRSAOAEPSHA256); got != 190 {
		t.Errorf("RSA_2048 OAEP-SHA-256 takes %d bytes; Alibaba Cloud documents 190", got)
	}
	if got := service.MaxAsymmetricPlaintext(service.SpecRSA2048, service.EncRSAOAEPSHA1); got != 214 {
		t.Errorf("RSA_2048 OAEP-SHA-1 takes %d bytes; Alibaba Cloud documents 214", got)
	}
	for _, spec := range specs {
		for _, level := range []service.ProtectionLevel{service.ProtectionHSM, service.ProtectionSoftware} {
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: spec, Usage: service.UsageEncryptDecrypt, Protection: level})
			if err != nil {
				t.Fatalf("%s %s: %v", spec, level, err)
			}
			pk, err := e.svc.PublicKeyOf(ctx, md.KeyID, "")
			if err != nil {
				t.Fatal(err)
			}
			pub := mustRSA(t, pk.DER)
			for _, alg := range service.EncryptionAlgorithmsOf(spec) {
				max := service.MaxAsymmetricPlaintext(spec, alg)
				msg := bytes.Repeat([]byte{0x5a}, max)
				var theirs []byte
				switch alg {
				case service.EncRSAOAEPSHA256:
					theirs, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
				case service.EncRSAOAEPSHA1:
					theirs, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, msg, nil)
				default:
					theirs, err = rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
				}
				if err != nil {
					t.Fatal(err)
				}
				ours, err := e.svc.AsymmetricEncrypt(ctx, service.AsymmetricEncryptRequest{KeyID: md.KeyID, Algorithm: alg, Plaintext: msg})
				if err != nil {
					t.Fatalf("%s %s %s: AsymmetricEncrypt: %v", spec, level, alg, err)
				}
				for who, ct := range map[string][]byte{"Go's crypto": theirs, "AsymmetricEncrypt": ours.Data} {
					res, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, KeyVersionID: md.KeyVersionID, Algorithm: alg, Ciphertext: ct})
					if err != nil || !bytes.Equal(res.Data, msg) {
						t.Fatalf("%s %s %s, encrypted by %s: %v", spec, level, alg, who, err)
					}
				}
				_, err = e.svc.AsymmetricEncrypt(ctx, service.AsymmetricEncryptRequest{KeyID: md.KeyID, Algorithm: alg, Plaintext: append(msg, 0)})
				if !errors.Is(err, service.KindInvalidParameter) {
					t.Errorf("%s %s %s: %d bytes: %v", spec, level, alg, max+1, err)
				}
				bad := bytes.Clone(theirs)
				bad[len(bad)/2] ^= 1
				for what, ct := range map[string][]byte{"changed": bad, "short": theirs[1:], "empty": nil} {
					_, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: alg, Ciphertext: ct})
					if !errors.Is(err, service.KindInvalidCiphertext) {
						t.Errorf("%s %s %s: a %s ciphertext: %v", spec, level, alg, what, err)
					}
				}
			}
			for what, err := range map[string]error{
				"Sign":    second(e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, Algorithm: service.SignRSAPSSSHA256, Digest: make([]byte, 32)})),
				"Encrypt": second(e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})),
			} {
				if !errors.Is(err, service.KindInvalidKeyUsage) {
					t.Errorf("%s %s: %s: %v", spec, level, what, err)
				}
			}
			if _, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: "SM2PKE", Ciphertext: make([]byte, 256)}); !errors.Is(err, service.KindInvalidParameter) {
				t.Errorf("%s %s: SM2PKE: %v", spec, level, err)
			}
		}
	}
	// A signing key and a symmetric key do not decrypt this way.
	for _, req := range []service.CreateKeyRequest{{Spec: service.SpecRSA2048, Usage: service.UsageSignVerify}, {}} {
		md, err := e.svc.CreateKey(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: service.EncRSAOAEPSHA256, Ciphertext: make([]byte, 256)}); !errors.Is(err, service.KindInvalidKeyUsage) {
			t.Errorf("AsymmetricDecrypt with a %s %s key: %v", md.Spec, md.Usage, err)
		}
	}
}

func mustRSA(t *testing.T, der []byte) *rsa.PublicKey {
	t.Helper()
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

func second[T any](_ T, err error) error { return err }

// SM2 keys: ENCRYPT/DECRYPT ones at both levels decrypt SM2PKE in both of
// its encodings, as gmsm writes them (the token derives the shared point
// at HSM level); SIGN/VERIFY ones at SOFTWARE level sign a message's
// SM3(Z_A ‖ M), which gmsm verifies as a signature of the message.
func TestSM2Keys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	msg := []byte("an SM2 secret")
	for _, level := range []service.ProtectionLevel{service.ProtectionHSM, service.ProtectionSoftware} {
		md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: service.SpecECSM2, Usage: service.UsageEncryptDecrypt, Protection: level})
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		pk, err := e.svc.PublicKeyOf(ctx, md.KeyID, "")
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := smx509.ParsePKIXPublicKey(pk.DER)
		if err != nil {
			t.Fatalf("gmsm does not read the public key: %v", err)
		}
		pub := parsed.(*ecdsa.PublicKey)
		asn1CT, _ := sm2.EncryptASN1(rand.Reader, pub, msg)
		rawCT, _ := sm2.Encrypt(rand.Reader, pub, msg, nil)
		ours, err := e.svc.AsymmetricEncrypt(ctx, service.AsymmetricEncryptRequest{KeyID: md.KeyID, Algorithm: service.EncSM2PKE, Plaintext: msg})
		if err != nil {
			t.Fatal(err)
		}
		for what, ct := range map[string][]byte{"ASN.1": asn1CT, "C1C3C2": rawCT, "AsymmetricEncrypt's": ours.Data} {
			res, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: service.EncSM2PKE, Ciphertext: ct})
			if err != nil || !bytes.Equal(res.Data, msg) {
				t.Fatalf("%s, %s ciphertext: %v", level, what, err)
			}
			bad := bytes.Clone(ct)
			bad[len(bad)-1] ^= 1
			if _, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: service.EncSM2PKE, Ciphertext: bad}); !errors.Is(err, service.KindInvalidCiphertext) {
				t.Errorf("%s, a changed %s ciphertext: %v", level, what, err)
			}
		}
		if _, err := e.svc.AsymmetricDecrypt(ctx, service.AsymmetricDecryptRequest{KeyID: md.KeyID, Algorithm: service.EncRSAOAEPSHA256, Ciphertext: asn1CT}); !errors.Is(err, service.KindInvalidParameter) {
			t.Errorf("%s: RSA OAEP with an SM2 key: %v", level, err)
		}
	}
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Spec: service.SpecECSM2, Usage: service.UsageSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := e.svc.PublicKeyOf(ctx, md.KeyID, "")
	parsed, _ := smx509.ParsePKIXPublicKey(pk.DER)
	res, err := e.svc.Sign(ctx, service.SignRequest{KeyID: md.KeyID, Algorithm: service.SignSM2DSA, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	if !sm2.VerifyASN1WithSM2(parsed.(*ecdsa.PublicKey), nil, msg, res.Signature) {
		t.Fatal("gmsm does not verify the SM2DSA signature of the message")
	}
	ok, _, err := e.svc.Verify(ctx, service.VerifyRequest{KeyID: md.KeyID, Algorithm: service.SignSM2DSA, Message: msg, Signature: res.Signature})
	if err != nil || !ok {
		t.Fatalf("Verify of the message: %v %v", ok, err)
	}
	e256, err := sm2.CalculateSM2Hash(parsed.(*ecdsa.PublicKey), msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err = e.svc.Verify(ctx, service.VerifyRequest{KeyID: md.KeyID, Algorithm: service.SignSM2DSA, Digest: e256, Signature: res.Signature})
	if err != nil || !ok {
		t.Fatalf("Verify of the digest e: %v %v", ok, err)
	}
}
