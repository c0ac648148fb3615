package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"math/big"
	"slices"

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
)

// signAlgorithms are the algorithms, as the token names them.
var signAlgorithms = map[SignAlgorithm]hsm.SignAlgorithm{
	SignRSAPSSSHA256: hsm.RSAPSSSHA256, SignRSAPKCS1SHA256: hsm.RSAPKCS1SHA256, SignECDSASHA256: hsm.ECDSASHA256,
}

// EncryptionAlgorithm is how a message is encrypted to an asymmetric
// key's public half.
type EncryptionAlgorithm string

const (
	EncRSAOAEPSHA256 EncryptionAlgorithm = "RSAES_OAEP_SHA_256" // MGF1 with SHA-256
	EncRSAOAEPSHA1   EncryptionAlgorithm = "RSAES_OAEP_SHA_1"
	EncRSAPKCS1v15   EncryptionAlgorithm = "RSAES_PKCS1_V1_5" // Tencent Cloud's AsymmetricRsaDecrypt only
)

// encryptionAlgorithms are the algorithms, as the token names them.
var encryptionAlgorithms = map[EncryptionAlgorithm]hsm.Algorithm{
	EncRSAOAEPSHA256: hsm.RSAOAEPSHA256, EncRSAOAEPSHA1: hsm.RSAOAEPSHA1, EncRSAPKCS1v15: hsm.RSAPKCS1v15,
}

// asymmetricSpec is one row of the spec table: the token pair a key of
// the spec has for each usage, and the algorithms of that usage.
type asymmetricSpec struct {
	signing  hsm.SigningSpec // 0: keys of the spec do not sign
	signWith []SignAlgorithm
	// decrypting is the pair of an ENCRYPT/DECRYPT key (0: none), the
	// kind wrapping keys are.
	decrypting  hsm.PairSpec
	encryptWith []EncryptionAlgorithm
	rsaBits     int // 0: an EC key
}

// asymmetricSpecs is Alibaba Cloud's table of asymmetric key specs, as far
// as Keyport serves it: RSA keys sign with PSS and PKCS#1 v1.5 over SHA-256
// and decrypt OAEP with SHA-256 or SHA-1 (and PKCS#1 v1.5 for Tencent
// Cloud's AsymmetricRsaDecrypt); P-256 keys sign with ECDSA over SHA-256.
var asymmetricSpecs = map[KeySpec]asymmetricSpec{
	SpecRSA2048: {hsm.SignRSA2048, rsaSigning, hsm.RSA2048, rsaEncryption, 2048},
	SpecRSA3072: {hsm.SignRSA3072, rsaSigning, hsm.RSA3072, rsaEncryption, 3072},
	SpecRSA4096: {hsm.SignRSA4096, rsaSigning, hsm.RSA4096, rsaEncryption, 4096},
	SpecECP256:  {hsm.SignECP256, []SignAlgorithm{SignECDSASHA256}, 0, nil, 0},
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

// SignRequest signs a SHA-256 digest. KeyVersionID, if given, must be the
// key's (an asymmetric key has one version).
type SignRequest struct {
	KeyID, KeyVersionID string
	Algorithm           SignAlgorithm
	Digest              []byte
}

// SignResponse carries the signature: PKCS#1 or PSS bytes for RSA, ASN.1
// DER for ECDSA.
type SignResponse struct {
	KeyID, KeyVersionID string
	Signature           []byte
}

// VerifyRequest checks a signature over a digest.
type VerifyRequest struct {
	KeyID, KeyVersionID string
	Algorithm           SignAlgorithm
	Digest, Signature   []byte
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
	case req.Origin == OriginExternal:
		return errorf(KindUnsupportedOrigin, "asymmetric keys cannot be imported (Origin EXTERNAL) yet")
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
			s.disown(ctx, string(want))
			return hsmError("generate key pair", err)
		}
		k.HSMObject, k.PublicKey = string(kp.ID), kp.PublicDER
		return nil
	}
	var priv crypto.Signer
	var err error
	if spec.rsaBits > 0 {
		priv, err = rsa.GenerateKey(rand.Reader, spec.rsaBits)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return wrapErr(KindInternal, err, "generate %s key", k.Spec)
	}
	defer wipeSigner(priv)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return wrapErr(KindInternal, err, "encode private key")
	}
	defer clear(der)
	if k.PublicKey, err = x509.MarshalPKIXPublicKey(priv.Public()); err != nil {
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

// signingKey loads a key that may sign with alg (or verify) now.
func (s *Service) signingKey(ctx context.Context, keyID, versionID string, alg SignAlgorithm) (*store.Key, error) {
	k, err := s.asymmetricKey(ctx, keyID, versionID, purposeSign)
	if err != nil {
		return nil, err
	}
	if algs := SignAlgorithmsOf(KeySpec(k.Spec)); !slices.Contains(algs, alg) {
		return nil, errorf(KindInvalidParameter, "Algorithm %q does not sign with a %s key; use one of %v", alg, k.Spec, algs)
	}
	return k, nil
}

// Sign signs a SHA-256 digest: in the token at HSM level, with the private
// key opened for this signature alone at SOFTWARE level.
func (s *Service) Sign(ctx context.Context, req SignRequest) (*SignResponse, error) {
	k, err := s.signingKey(ctx, req.KeyID, req.KeyVersionID, req.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(req.Digest) != 32 {
		return nil, errorf(KindInvalidParameter, "Digest must be a SHA-256 digest: 32 bytes, not %d", len(req.Digest))
	}
	alg := signAlgorithms[req.Algorithm]
	var sig []byte
	if ProtectionLevel(k.Protection) == ProtectionHSM {
		if !s.signs[alg] {
			return nil, errorf(KindUnsupportedAlgorithm, "this HSM cannot sign %s", req.Algorithm)
		}
		if sig, err = s.tok.Sign(ctx, hsm.KeyID(k.HSMObject), alg, req.Digest); err != nil {
			return nil, hsmError("sign", err)
		}
	} else if sig, err = s.signInProcess(ctx, k, alg, req.Digest); err != nil {
		return nil, err
	}
	return &SignResponse{KeyID: k.ID, KeyVersionID: k.VersionID, Signature: sig}, nil
}

// openPrivateKey opens a SOFTWARE-level key's sealed private half for one
// operation; the caller wipes it (wipeSigner) when done.
func (s *Service) openPrivateKey(ctx context.Context, k *store.Key) (crypto.Signer, error) {
	der, err := s.openMaterial(ctx, k)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, wrapErr(KindInternal, err, "sealed private key of key %s", k.ID)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, errorf(KindInternal, "sealed private key of key %s is a %T", k.ID, parsed)
	}
	return priv, nil
}

func (s *Service) signInProcess(ctx context.Context, k *store.Key, alg hsm.SignAlgorithm, digest []byte) ([]byte, error) {
	priv, err := s.openPrivateKey(ctx, k)
	if err != nil {
		return nil, err
	}
	defer wipeSigner(priv)
	var sig []byte
	switch alg {
	case hsm.RSAPSSSHA256:
		sig, err = priv.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	default: // PKCS#1 v1.5, and ECDSA's ASN.1 signature
		sig, err = priv.Sign(rand.Reader, digest, crypto.SHA256)
	}
	if err != nil {
		return nil, wrapErr(KindInternal, err, "sign")
	}
	return sig, nil
}

// wipeSigner zeroes what it can of a private key once it has signed: Go's
// big integers keep their words, which are cleared in place.
func wipeSigner(k crypto.Signer) {
	switch p := k.(type) {
	case *rsa.PrivateKey:
		clearInt := func(words []big.Word) { clear(words) }
		clearInt(p.D.Bits())
		for _, q := range p.Primes {
			clearInt(q.Bits())
		}
		if p.Precomputed.Dp != nil {
			clearInt(p.Precomputed.Dp.Bits())
			clearInt(p.Precomputed.Dq.Bits())
			clearInt(p.Precomputed.Qinv.Bits())
		}
	case *ecdsa.PrivateKey:
		clear(p.D.Bits())
	}
}

// Verify checks a signature from the key's public half, in process. A
// signature that does not hold is false, not an error.
func (s *Service) Verify(ctx context.Context, req VerifyRequest) (bool, *PublicKey, error) {
	k, err := s.signingKey(ctx, req.KeyID, req.KeyVersionID, req.Algorithm)
	if err != nil {
		return false, nil, err
	}
	if len(req.Digest) != 32 {
		return false, nil, errorf(KindInvalidParameter, "Digest must be a SHA-256 digest: 32 bytes, not %d", len(req.Digest))
	}
	ok, err := hsm.Verify(k.PublicKey, signAlgorithms[req.Algorithm], req.Digest, req.Signature)
	if err != nil {
		return false, nil, wrapErr(KindInternal, err, "public key of key %s", k.ID)
	}
	return ok, &PublicKey{KeyID: k.ID, KeyVersionID: k.VersionID}, nil
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
