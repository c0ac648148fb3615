package service

import (
	"context"
	"errors"
	"slices"

	"github.com/keyport-kms/keyport/asymkey"
	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// Asymmetric keys sign (SIGN/VERIFY) or decrypt (ENCRYPT/DECRYPT). At HSM
// level the pair is generated in the token and its private half never
// leaves it; at SOFTWARE level the private key is generated here, sealed
// by the master key as PKCS#8, and opened for one operation at a time.
// Verification and encryption run in process from the public half, which
// the record keeps.

// SignAlgorithm is how AsymmetricSign signs a digest.
type SignAlgorithm string

const (
	SignRSAPSSSHA256   SignAlgorithm = "RSA_PSS_SHA_256"
	SignRSAPKCS1SHA256 SignAlgorithm = "RSA_PKCS1_SHA_256"
	SignECDSASHA256    SignAlgorithm = "ECDSA_SHA_256"
	SignSM2DSA         SignAlgorithm = "SM2DSA" // the digest is SM3(Z_A ‖ M), the default user id's
)

// signAlgorithms are the algorithms, as the token and asymkey name them.
var signAlgorithms = map[SignAlgorithm]struct {
	token  hsm.SignAlgorithm
	scheme asymkey.Scheme
}{
	SignRSAPSSSHA256:   {hsm.RSAPSSSHA256, asymkey.PSS},
	SignRSAPKCS1SHA256: {hsm.RSAPKCS1SHA256, asymkey.PKCS1},
	SignECDSASHA256:    {hsm.ECDSASHA256, asymkey.ECDSA},
	SignSM2DSA:         {hsm.SM2DSA, asymkey.SM2DSA},
}

// EncryptionAlgorithm is how a message is encrypted to an asymmetric
// key's public half.
type EncryptionAlgorithm string

const (
	EncRSAOAEPSHA256 EncryptionAlgorithm = "RSAES_OAEP_SHA_256" // MGF1 with SHA-256
	EncRSAOAEPSHA1   EncryptionAlgorithm = "RSAES_OAEP_SHA_1"
	EncRSAPKCS1v15   EncryptionAlgorithm = "RSAES_PKCS1_V1_5" // Tencent Cloud's AsymmetricRsaDecrypt only
	EncSM2PKE        EncryptionAlgorithm = "SM2PKE"           // C1C3C2, ASN.1 or 04 ‖ x ‖ y ‖ C3 ‖ C2
)

// encryptionAlgorithms are the algorithms, as the token and asymkey name them.
var encryptionAlgorithms = map[EncryptionAlgorithm]struct {
	token  hsm.Algorithm
	cipher asymkey.Cipher
}{
	EncRSAOAEPSHA256: {hsm.RSAOAEPSHA256, asymkey.OAEPSHA256},
	EncRSAOAEPSHA1:   {hsm.RSAOAEPSHA1, asymkey.OAEPSHA1},
	EncRSAPKCS1v15:   {hsm.RSAPKCS1v15, asymkey.PKCS1v15},
	EncSM2PKE:        {hsm.SM2PKE, asymkey.SM2PKE},
}

// asymmetricSpec is one row of the spec table: the key kind, the token
// pair a key of the spec has for each usage, and the algorithms of that
// usage.
type asymmetricSpec struct {
	key      asymkey.Spec
	signing  hsm.SigningSpec // 0: keys of the spec do not sign
	signWith []SignAlgorithm
	// decrypting is the pair of an ENCRYPT/DECRYPT key (0: none), the
	// kind wrapping keys are.
	decrypting  hsm.PairSpec
	encryptWith []EncryptionAlgorithm
}

// asymmetricSpecs is Alibaba Cloud's table of asymmetric key specs
// ("Key types and specifications"): RSA keys sign with PSS and PKCS#1 v1.5
// over SHA-256 and decrypt OAEP with SHA-256 or SHA-1 (and PKCS#1 v1.5 for
// Tencent Cloud's AsymmetricRsaDecrypt); P-256 and secp256k1 keys sign with
// ECDSA over SHA-256; SM2 keys sign with SM2DSA and decrypt SM2PKE.
var asymmetricSpecs = map[KeySpec]asymmetricSpec{
	SpecRSA2048: {asymkey.RSA2048, hsm.SignRSA2048, rsaSigning, hsm.RSA2048, rsaEncryption},
	SpecRSA3072: {asymkey.RSA3072, hsm.SignRSA3072, rsaSigning, hsm.RSA3072, rsaEncryption},
	SpecRSA4096: {asymkey.RSA4096, hsm.SignRSA4096, rsaSigning, hsm.RSA4096, rsaEncryption},
	SpecECP256:  {asymkey.ECP256, hsm.SignECP256, []SignAlgorithm{SignECDSASHA256}, 0, nil},
	SpecECP256K: {asymkey.ECP256K, hsm.SignECP256K, []SignAlgorithm{SignECDSASHA256}, 0, nil},
	SpecECSM2:   {asymkey.SM2, hsm.SignSM2, []SignAlgorithm{SignSM2DSA}, hsm.SM2, []EncryptionAlgorithm{EncSM2PKE}},
}

var (
	rsaSigning    = []SignAlgorithm{SignRSAPSSSHA256, SignRSAPKCS1SHA256}
	rsaEncryption = []EncryptionAlgorithm{EncRSAOAEPSHA256, EncRSAOAEPSHA1, EncRSAPKCS1v15}
)

// Asymmetric reports whether spec is an asymmetric key's.
func (s KeySpec) Asymmetric() bool { _, ok := asymmetricSpecs[s]; return ok }

// SignAlgorithmsOf lists the algorithms that sign with keys of spec.
func SignAlgorithmsOf(spec KeySpec) []SignAlgorithm { return asymmetricSpecs[spec].signWith }

// EncryptionAlgorithmsOf lists the algorithms that encrypt to keys of spec.
func EncryptionAlgorithmsOf(spec KeySpec) []EncryptionAlgorithm {
	return asymmetricSpecs[spec].encryptWith
}

// PublicKey is an asymmetric key's public half.
type PublicKey struct {
	KeyID, KeyVersionID string
	DER                 []byte // SubjectPublicKeyInfo
}

// checkAsymmetric refuses what CreateKey cannot make of an asymmetric spec.
func (s *Service) checkAsymmetric(req CreateKeyRequest) error {
	spec := asymmetricSpecs[req.Spec]
	switch {
	case req.Usage == UsageSignVerify && spec.signing == 0,
		req.Usage == UsageEncryptDecrypt && spec.decrypting == 0,
		req.Usage != UsageSignVerify && req.Usage != UsageEncryptDecrypt:
		return errorf(KindInvalidParameter, "KeyUsage %q is not supported with KeySpec %s", req.Usage, req.Spec)
	case req.AutoRotate:
		return errorf(KindRotationUnsupported, "asymmetric keys cannot rotate")
	case req.Protection != ProtectionHSM:
		return nil
	case req.Usage == UsageSignVerify && !s.signingSpecs[spec.signing]:
		return errorf(KindUnsupportedAlgorithm, "this HSM cannot make %s signing keys", req.Spec)
	case req.Usage == UsageEncryptDecrypt && !s.decryptsWith(spec.decrypting):
		return errorf(KindUnsupportedAlgorithm, "this HSM cannot decrypt with %s keys", req.Spec)
	}
	return nil
}

// decryptsWith reports whether the token decrypts with some algorithm of
// a pair of spec.
func (s *Service) decryptsWith(spec hsm.PairSpec) bool {
	for alg, ok := range s.decrypts {
		if ok && alg.Fits(spec) {
			return true
		}
	}
	return false
}

// generateKeyPair gives a new asymmetric key its pair: in the token at
// HSM level (the object id recorded as owned before it exists), else made
// here and sealed.
func (s *Service) generateKeyPair(ctx context.Context, k *store.Key) error {
	spec := asymmetricSpecs[KeySpec(k.Spec)]
	if ProtectionLevel(k.Protection) == ProtectionHSM {
		want, err := s.newObjectID(ctx)
		if err != nil {
			return err
		}
		label := s.materialLabel(k.ID + "/" + k.VersionID)
		var kp hsm.KeyPair
		if purposeOf(k) == purposeSign {
			kp, err = s.tok.GenerateSigningPair(ctx, spec.signing, label, want)
		} else {
			kp, err = s.tok.GenerateKeyPair(ctx, spec.decrypting, label, want)
		}
		if err != nil {
			s.abandon(ctx, want, err)
			return hsmError("generate key pair", err)
		}
		k.HSMObject, k.PublicKey = string(kp.ID), kp.PublicDER
		return nil
	}
	priv, err := asymkey.Generate(spec.key)
	if err != nil {
		return wrapErr(KindInternal, err, "generate %s key", k.Spec)
	}
	defer priv.Wipe()
	der, err := priv.MarshalPKCS8()
	if err != nil {
		return wrapErr(KindInternal, err, "encode private key")
	}
	defer clear(der)
	if k.PublicKey, err = priv.Public().MarshalPKIX(); err != nil {
		return wrapErr(KindInternal, err, "encode public key")
	}
	k.SealedMat, err = s.sealMaterial(ctx, k, der)
	return err
}

// asymmetricKey loads an asymmetric key that may act now, of one of the
// purposes the action needs, and checks the version asked for.
func (s *Service) asymmetricKey(ctx context.Context, keyID, versionID string, need ...keyPurpose) (*store.Key, error) {
	k, err := s.getPrimary(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(need, purposeOf(k)) {
		return nil, errorf(KindInvalidKeyUsage, "a %s key whose KeyUsage is %s cannot do this", k.Spec, k.Usage)
	}
	if err := s.allow(ctx, OpAsymmetric, k); err != nil {
		return nil, err
	}
	if versionID != "" && versionID != k.VersionID {
		return nil, errorf(KindVersionNotFound, "key %s has no version %s", k.ID, versionID)
	}
	return k, nil
}

// publicHalf reads the public half the record keeps.
func publicHalf(k *store.Key) (*asymkey.PublicKey, error) {
	pub, err := asymkey.ParsePKIX(k.PublicKey)
	if err != nil {
		return nil, wrapErr(KindInternal, err, "public key of key %s", k.ID)
	}
	return pub, nil
}

// openPrivateKey opens a SOFTWARE-level key's sealed private half for one
// operation; the caller wipes it when done.
func (s *Service) openPrivateKey(ctx context.Context, k *store.Key) (*asymkey.PrivateKey, error) {
	der, err := s.openMaterial(ctx, k)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	priv, err := asymkey.ParsePKCS8(der)
	if err != nil {
		return nil, wrapErr(KindInternal, err, "sealed private key of key %s", k.ID)
	}
	return priv, nil
}

// PublicKeyOf returns an asymmetric key's public half.
func (s *Service) PublicKeyOf(ctx context.Context, keyID, versionID string) (*PublicKey, error) {
	k, err := s.asymmetricKey(ctx, keyID, versionID, purposeSign, purposeDecrypt)
	if err != nil {
		return nil, err
	}
	if len(k.PublicKey) == 0 {
		return nil, wrapErr(KindInternal, errors.New("no public key recorded"), "key %s", k.ID)
	}
	return &PublicKey{KeyID: k.ID, KeyVersionID: k.VersionID, DER: k.PublicKey}, nil
}
