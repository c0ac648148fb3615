package service

import (
	"context"
	"crypto/aes"
	"errors"

	"github.com/emmansun/gmsm/sm4"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/store"
)

// Material protection. Sealed material is AES-256-GCM under the HSM master
// seal key, bound to its key and version, so a sealed copy cannot be moved
// to another key in the store. Fingerprints are HMACs in the HSM over the
// material's key check value (the cipher of a zero block under it), so the
// same material gives the same fingerprint whether it was seen by this
// process or only by the token, and no plain hash of material is stored.

func materialAAD(k *store.Key) []byte {
	return []byte("keyport/material/v1\x00" + k.ID + "\x00" + k.VersionID)
}

func (s *Service) sealMaterial(ctx context.Context, k *store.Key, m []byte) ([]byte, error) {
	sealed, err := s.tok.Seal(ctx, s.master, m, materialAAD(k))
	if err != nil {
		return nil, hsmError("seal key material", err)
	}
	return sealed, nil
}

// openMaterial unseals a key's material for one operation; the caller
// wipes it.
func (s *Service) openMaterial(ctx context.Context, k *store.Key) ([]byte, error) {
	m, err := s.tok.Open(ctx, s.master, k.SealedMat, materialAAD(k))
	if errors.Is(err, hsm.ErrBadCiphertext) {
		return nil, wrapErr(KindInternal, err, "sealed material of key %s does not open", k.ID)
	}
	if err != nil {
		return nil, hsmError("open key material", err)
	}
	return m, nil
}

// checkValue is the key check value of material held in this process.
func checkValue(spec KeySpec, m []byte) ([]byte, error) {
	kcv := make([]byte, 16)
	switch spec {
	case SpecSM4:
		c, err := sm4.NewCipher(m)
		if err != nil {
			return nil, err
		}
		c.Encrypt(kcv, kcv)
	default:
		c, err := aes.NewCipher(m)
		if err != nil {
			return nil, err
		}
		c.Encrypt(kcv, kcv)
	}
	return kcv, nil
}

// fingerprint binds a check value to its spec under the HSM MAC key.
func (s *Service) fingerprint(ctx context.Context, spec KeySpec, kcv []byte) ([]byte, error) {
	fp, err := s.tok.MAC(ctx, s.macKey, append([]byte("keyport/fingerprint/v1\x00"+string(spec)+"\x00"), kcv...))
	if err != nil {
		return nil, hsmError("fingerprint key material", err)
	}
	return fp, nil
}

// destroyMaterial deletes a material token object. A failure leaves an
// orphan that the next start-up removes; it is logged, not returned.
func (s *Service) destroyMaterial(ctx context.Context, object string) {
	if object == "" {
		return
	}
	if err := s.tok.Delete(ctx, hsm.KeyID(object)); err != nil && !errors.Is(err, hsm.ErrNotFound) {
		s.log.Error("destroy material object; it will be removed at next start", "object", object, "err", err)
		return
	}
	s.disown(ctx, object)
}
