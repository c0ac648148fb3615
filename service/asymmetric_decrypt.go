package service

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSAES_OAEP_SHA_1 is a published algorithm of both clouds; SHA-1 in OAEP is not a signature
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"hash"
	"slices"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// Asymmetric decryption: a message is encrypted to an ENCRYPT/DECRYPT
// key's public half (by the caller, or by AsymmetricEncrypt, in process)
// and decrypted by its private half: in the token at HSM level, with the
// sealed private key opened for this one decryption at SOFTWARE level.

// AsymmetricEncryptRequest encrypts a short message to a key's public half.
type AsymmetricEncryptRequest struct {
	KeyID, KeyVersionID string
	Algorithm           EncryptionAlgorithm
	Plaintext           []byte
}

// AsymmetricDecryptRequest decrypts what was encrypted to a key's public half.
type AsymmetricDecryptRequest struct {
	KeyID, KeyVersionID string
	Algorithm           EncryptionAlgorithm
	Ciphertext          []byte
}

// AsymmetricResult is the other side of either: the ciphertext or the
// plaintext, and the key version that made or read it.
type AsymmetricResult struct {
	KeyID, KeyVersionID string
	Data                []byte
}

// decryptingKey loads a key that may encrypt or decrypt with alg now.
func (s *Service) decryptingKey(ctx context.Context, keyID, versionID string, alg EncryptionAlgorithm) (*store.Key, error) {
	k, err := s.asymmetricKey(ctx, keyID, versionID, purposeDecrypt)
	if err != nil {
		return nil, err
	}
	if algs := EncryptionAlgorithmsOf(KeySpec(k.Spec)); !slices.Contains(algs, alg) {
		return nil, errorf(KindInvalidParameter, "Algorithm %q does not encrypt to a %s key; use one of %v", alg, k.Spec, algs)
	}
	return k, nil
}

// oaepHash is the hash of an OAEP algorithm; nil for PKCS#1 v1.5.
func oaepHash(alg EncryptionAlgorithm) hash.Hash {
	switch alg {
	case EncRSAOAEPSHA256:
		return sha256.New()
	case EncRSAOAEPSHA1:
		return sha1.New() //nolint:gosec // see the import
	}
	return nil
}

// MaxAsymmetricPlaintext is the longest message alg encrypts to a key of
// spec: k − 2·hLen − 2 bytes for OAEP (190 and 214 for RSA-2048 with
// SHA-256 and SHA-1, as Alibaba Cloud documents), k − 11 for PKCS#1 v1.5.
func MaxAsymmetricPlaintext(spec KeySpec, alg EncryptionAlgorithm) int {
	k := asymmetricSpecs[spec].rsaBits / 8
	if h := oaepHash(alg); h != nil {
		return k - 2*h.Size() - 2
	}
	return k - 11
}

// AsymmetricEncrypt encrypts to the key's public half, in process: the
// public half is public, and the token need not spend an operation on it.
func (s *Service) AsymmetricEncrypt(ctx context.Context, req AsymmetricEncryptRequest) (*AsymmetricResult, error) {
	k, err := s.decryptingKey(ctx, req.KeyID, req.KeyVersionID, req.Algorithm)
	if err != nil {
		return nil, err
	}
	if max := MaxAsymmetricPlaintext(KeySpec(k.Spec), req.Algorithm); len(req.Plaintext) == 0 || len(req.Plaintext) > max {
		return nil, errorf(KindInvalidParameter, "Plaintext must be 1 to %d bytes for %s with a %s key, not %d", max, req.Algorithm, k.Spec, len(req.Plaintext))
	}
	parsed, err := x509.ParsePKIXPublicKey(k.PublicKey)
	pub, ok := parsed.(*rsa.PublicKey)
	if err != nil || !ok {
		return nil, wrapErr(KindInternal, errors.Join(err, errors.New("not an RSA key")), "public key of key %s", k.ID)
	}
	var ct []byte
	if h := oaepHash(req.Algorithm); h != nil {
		ct, err = rsa.EncryptOAEP(h, rand.Reader, pub, req.Plaintext, nil)
	} else {
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, pub, req.Plaintext)
	}
	if err != nil {
		return nil, wrapErr(KindInternal, err, "encrypt")
	}
	return &AsymmetricResult{KeyID: k.ID, KeyVersionID: k.VersionID, Data: ct}, nil
}

// AsymmetricDecrypt decrypts with the key's private half. A ciphertext
// that does not decrypt is KindInvalidCiphertext, whatever the reason, so
// that the answer tells nothing of the padding.
func (s *Service) AsymmetricDecrypt(ctx context.Context, req AsymmetricDecryptRequest) (*AsymmetricResult, error) {
	k, err := s.decryptingKey(ctx, req.KeyID, req.KeyVersionID, req.Algorithm)
	if err != nil {
		return nil, err
	}
	if len(req.Ciphertext) != asymmetricSpecs[KeySpec(k.Spec)].rsaBits/8 {
		return nil, errorf(KindInvalidCiphertext, "CiphertextBlob is not a ciphertext of this key")
	}
	var pt []byte
	if ProtectionLevel(k.Protection) == ProtectionHSM {
		alg := encryptionAlgorithms[req.Algorithm]
		if !s.decrypts[alg] {
			return nil, errorf(KindUnsupportedAlgorithm, "this HSM cannot decrypt %s", req.Algorithm)
		}
		pt, err = s.tok.Decrypt(ctx, hsm.KeyID(k.HSMObject), alg, req.Ciphertext)
		if errors.Is(err, hsm.ErrBadCiphertext) {
			return nil, errorf(KindInvalidCiphertext, "CiphertextBlob does not decrypt under this key")
		} else if err != nil {
			return nil, hsmError("decrypt", err)
		}
	} else if pt, err = s.decryptInProcess(ctx, k, req.Algorithm, req.Ciphertext); err != nil {
		return nil, err
	}
	return &AsymmetricResult{KeyID: k.ID, KeyVersionID: k.VersionID, Data: pt}, nil
}

func (s *Service) decryptInProcess(ctx context.Context, k *store.Key, alg EncryptionAlgorithm, ct []byte) ([]byte, error) {
	priv, err := s.openPrivateKey(ctx, k)
	if err != nil {
		return nil, err
	}
	defer wipeSigner(priv)
	rk, ok := priv.(*rsa.PrivateKey)
	if !ok {
		return nil, errorf(KindInternal, "sealed private key of key %s is a %T", k.ID, priv)
	}
	var pt []byte
	if h := oaepHash(alg); h != nil {
		pt, err = rsa.DecryptOAEP(h, nil, rk, ct, nil)
	} else {
		pt, err = rsa.DecryptPKCS1v15(nil, rk, ct) //nolint:staticcheck // Tencent Cloud's published algorithm
	}
	if err != nil {
		return nil, errorf(KindInvalidCiphertext, "CiphertextBlob does not decrypt under this key")
	}
	return pt, nil
}
