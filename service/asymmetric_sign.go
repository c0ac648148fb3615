package service

import (
	"context"
	"crypto/sha256"
	"slices"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// SignRequest signs a message's digest: Digest as given (SHA-256, or
// SM3(Z_A ‖ M) for SM2DSA), or, when Message is set instead, the digest of
// Message that the algorithm signs. KeyVersionID, if given, must be the key's (an
// asymmetric key has one version).
type SignRequest struct {
	KeyID, KeyVersionID string
	Algorithm           SignAlgorithm
	Digest, Message     []byte
}

// SignResponse carries the signature: PKCS#1 or PSS bytes for RSA, ASN.1
// DER for ECDSA and SM2DSA.
type SignResponse struct {
	KeyID, KeyVersionID string
	Signature           []byte
}

// VerifyRequest checks a signature over a digest, or a message's, as
// SignRequest takes them.
type VerifyRequest struct {
	KeyID, KeyVersionID string
	Algorithm           SignAlgorithm
	Digest, Message     []byte
	Signature           []byte
}

// signingKey loads a key that may sign with alg (or verify) now, and the
// digest to sign or check.
func (s *Service) signingKey(ctx context.Context, keyID, versionID string, alg SignAlgorithm, digest, message []byte) (*store.Key, []byte, error) {
	k, err := s.asymmetricKey(ctx, keyID, versionID, purposeSign)
	if err != nil {
		return nil, nil, err
	}
	if algs := SignAlgorithmsOf(KeySpec(k.Spec)); !slices.Contains(algs, alg) {
		return nil, nil, errorf(KindInvalidParameter, "Algorithm %q does not sign with a %s key; use one of %v", alg, k.Spec, algs)
	}
	if message != nil && digest == nil {
		if alg != SignSM2DSA {
			sum := sha256.Sum256(message)
			return k, sum[:], nil
		}
		pub, err := publicHalf(k)
		if err != nil {
			return nil, nil, err
		}
		if digest, err = pub.SM2Digest(message); err != nil {
			return nil, nil, wrapErr(KindInternal, err, "SM2 digest")
		}
		return k, digest, nil
	}
	if len(digest) != 32 {
		return nil, nil, errorf(KindInvalidParameter, "Digest must be 32 bytes (SHA-256, or SM3 for SM2DSA), not %d", len(digest))
	}
	return k, digest, nil
}

// Sign signs a digest: in the token at HSM level, with the private key
// opened for this signature alone at SOFTWARE level.
func (s *Service) Sign(ctx context.Context, req SignRequest) (*SignResponse, error) {
	k, digest, err := s.signingKey(ctx, req.KeyID, req.KeyVersionID, req.Algorithm, req.Digest, req.Message)
	if err != nil {
		return nil, err
	}
	alg := signAlgorithms[req.Algorithm]
	var sig []byte
	if ProtectionLevel(k.Protection) == ProtectionHSM {
		if !s.signs[alg.token] {
			return nil, errorf(KindUnsupportedAlgorithm, "this HSM cannot sign %s", req.Algorithm)
		}
		if sig, err = s.tok.Sign(ctx, hsm.KeyID(k.HSMObject), alg.token, digest); err != nil {
			return nil, hsmError("sign", err)
		}
		return &SignResponse{KeyID: k.ID, KeyVersionID: k.VersionID, Signature: sig}, nil
	}
	priv, err := s.openPrivateKey(ctx, k)
	if err != nil {
		return nil, err
	}
	defer priv.Wipe()
	if sig, err = priv.Sign(alg.scheme, digest); err != nil {
		return nil, wrapErr(KindInternal, err, "sign")
	}
	return &SignResponse{KeyID: k.ID, KeyVersionID: k.VersionID, Signature: sig}, nil
}

// Verify checks a signature from the key's public half, in process. A
// signature that does not hold is false, not an error.
func (s *Service) Verify(ctx context.Context, req VerifyRequest) (bool, *PublicKey, error) {
	k, digest, err := s.signingKey(ctx, req.KeyID, req.KeyVersionID, req.Algorithm, req.Digest, req.Message)
	if err != nil {
		return false, nil, err
	}
	pub, err := publicHalf(k)
	if err != nil {
		return false, nil, err
	}
	return pub.Verify(signAlgorithms[req.Algorithm].scheme, digest, req.Signature), &PublicKey{KeyID: k.ID, KeyVersionID: k.VersionID}, nil
}
