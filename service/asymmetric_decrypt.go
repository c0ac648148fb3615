package service

import (
	"context"
	"errors"
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

// MaxAsymmetricPlaintext is the longest message alg encrypts to a key of
// spec: k − 2·hLen − 2 bytes for OAEP (190 and 214 for RSA-2048 with
// SHA-256 and SHA-1, as Alibaba Cloud documents), k − 11 for PKCS#1 v1.5,
// 6,047 for SM2PKE.
func MaxAsymmetricPlaintext(spec KeySpec, alg EncryptionAlgorithm) int {
	return encryptionAlgorithms[alg].cipher.MaxPlaintext(asymmetricSpecs[spec].key)
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
	pub, err := publicHalf(k)
	if err != nil {
		return nil, err
	}
	ct, err := pub.Encrypt(encryptionAlgorithms[req.Algorithm].cipher, req.Plaintext)
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
	badCiphertext := errorf(KindInvalidCiphertext, "CiphertextBlob does not decrypt under this key")
	if bits := asymmetricSpecs[KeySpec(k.Spec)].key.RSABits(); bits > 0 && len(req.Ciphertext) != bits/8 {
		return nil, badCiphertext
	}
	alg := encryptionAlgorithms[req.Algorithm]
	var pt []byte
	if ProtectionLevel(k.Protection) == ProtectionHSM {
		if !s.decrypts[alg.token] {
			return nil, errorf(KindUnsupportedAlgorithm, "this HSM cannot decrypt %s", req.Algorithm)
		}
		pt, err = s.tok.Decrypt(ctx, hsm.KeyID(k.HSMObject), alg.token, req.Ciphertext)
		if errors.Is(err, hsm.ErrBadCiphertext) {
			return nil, badCiphertext
		} else if err != nil {
			return nil, hsmError("decrypt", err)
		}
		return &AsymmetricResult{KeyID: k.ID, KeyVersionID: k.VersionID, Data: pt}, nil
	}
	priv, err := s.openPrivateKey(ctx, k)
	if err != nil {
		return nil, err
	}
	defer priv.Wipe()
	if pt, err = priv.Decrypt(alg.cipher, req.Ciphertext); err != nil {
		return nil, badCiphertext
	}
	return &AsymmetricResult{KeyID: k.ID, KeyVersionID: k.VersionID, Data: pt}, nil
}
