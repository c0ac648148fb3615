package service

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/keywrap"
	"github.com/keyport-kms/keyport/store"
)

// GetParametersForImport issues a wrapping public key and an import token
// bound to one EXTERNAL key, one algorithm and one expiry. Every call
// returns a public key no other call returned.
func (s *Service) GetParametersForImport(ctx context.Context, req GetParametersForImportRequest) (*ImportParameters, error) {
	pair, ok := wrapping[req.Algorithm]
	_, known := wrappingSpecs[req.Spec]
	switch {
	case req.Spec == "":
		return nil, errorf(KindInvalidParameter, "WrappingKeySpec is required")
	case req.Algorithm == "":
		return nil, errorf(KindInvalidParameter, "WrappingAlgorithm is required")
	case !known:
		return nil, errorf(KindInvalidParameter, "WrappingKeySpec %q is not supported; use RSA_2048, RSA_3072, RSA_4096 or EC_SM2", req.Spec)
	case !ok:
		return nil, errorf(KindInvalidParameter, "WrappingAlgorithm %q is not supported", req.Algorithm)
	case !slices.Contains(pair.specs, req.Spec):
		return nil, errorf(KindInvalidParameter, "WrappingAlgorithm %s does not go with WrappingKeySpec %s", req.Algorithm, req.Spec)
	}
	k, err := s.getKey(ctx, req.KeyID)
	if err != nil {
		return nil, err
	}
	if Origin(k.Origin) != OriginExternal {
		return nil, errorf(KindUnsupportedOrigin, "key material can be imported only into keys whose Origin is EXTERNAL")
	}
	if want := map[bool]carries{false: carriesMaterial, true: carriesPrivateKey}[KeySpec(k.Spec).Asymmetric()]; pair.carries&want == 0 {
		return nil, errorf(KindInvalidParameter, "WrappingAlgorithm %s does not carry the material of a %s key", req.Algorithm, k.Spec)
	}
	if req.Spec == WrappingSM2 {
		if ProtectionLevel(k.Protection) != ProtectionHSM {
			return nil, errorf(KindUnsupportedProtectionLevel, "EC_SM2 / SM2PKE wrapping is allowed only for keys whose ProtectionLevel is HSM")
		}
		if !s.sm2 {
			return nil, errorf(KindUnsupportedAlgorithm, "this HSM cannot decrypt SM2PKE")
		}
	}
	expires := s.now().UTC().Add(s.opt.ImportTokenTTL).Truncate(time.Second)
	w, err := s.pool.claim(ctx, req.Spec, func(w *store.WrappingKey) {
		w.KeyID, w.Algorithm, w.Expires = k.ID, string(req.Algorithm), expires
	})
	if err != nil {
		return nil, err
	}
	token, err := s.issueToken(ctx, importToken{keyID: k.ID, wrappingKey: w.ID, algorithm: req.Algorithm, expires: expires})
	if err != nil {
		return nil, err
	}
	return &ImportParameters{KeyID: k.ID, PublicKey: w.PublicDER, ImportToken: token, Expires: expires}, nil
}

// ImportKeyMaterial decrypts wrapped material in the HSM and gives it to
// the key: as a token object for HSM-level AES keys, sealed otherwise. The
// first import fixes the material's fingerprint; later ones must match it.
func (s *Service) ImportKeyMaterial(ctx context.Context, req ImportKeyMaterialRequest) error {
	// A user's right to the key is checked first: a refusal costs no HSM
	// operation and tells nothing of the token.
	if req.KeyID != "" && restricted(ctx) {
		if _, err := s.getKey(ctx, req.KeyID); err != nil {
			return err
		}
	}
	t, err := s.verifyToken(ctx, req.ImportToken)
	if err != nil {
		return err
	}
	if req.KeyID == "" {
		return errorf(KindInvalidParameter, "KeyId is required")
	}
	if req.KeyID, err = s.resolveAlias(ctx, req.KeyID); err != nil {
		return err
	}
	if t.keyID != req.KeyID {
		return errorf(KindInvalidImportToken, "ImportToken was issued for another key")
	}
	if req.Algorithm != "" && req.Algorithm != t.algorithm {
		return errorf(KindInvalidImportToken, "ImportToken was issued for another wrapping algorithm")
	}
	if !s.now().Before(t.expires) {
		return errorf(KindExpiredImportToken, "ImportToken expired at %s", t.expires.Format(time.RFC3339))
	}
	if !req.MaterialExpires.IsZero() && !s.now().Before(req.MaterialExpires) {
		return errorf(KindInvalidParameter, "KeyMaterialExpireUnix is in the past")
	}
	k, err := s.getKey(ctx, req.KeyID)
	if err != nil {
		return err
	}
	if Origin(k.Origin) != OriginExternal {
		return errorf(KindUnsupportedOrigin, "key material can be imported only into keys whose Origin is EXTERNAL")
	}
	if err := s.allow(ctx, OpImport, k); err != nil {
		return err
	}
	if len(req.EncryptedMaterial) == 0 {
		return errorf(KindInvalidParameter, "EncryptedKeyMaterial is required")
	}
	// The cap on failed decryptions is the padding-oracle defence, so it
	// must hold however many requests arrive at once: the attempt is
	// counted as a failure in the store, in one transaction that also
	// checks the cap, before the HSM is asked, and uncounted only when the
	// import succeeds (or fails for a reason that says nothing about the
	// ciphertext).
	w, err := s.reserveAttempt(ctx, t)
	if err != nil {
		return err
	}
	counted := true // whether this attempt stays counted as a failure
	defer func() {
		if counted {
			s.afterFailure(ctx, w)
			return
		}
		// Uncounting need not hold the answer back: until it is written the
		// attempt counts against the cap, the safe side, and a crash before
		// it only leaves one attempt counted.
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.releaseAttempt(ctx, w.ID) }()
	}()

	unwrap := s.unwrapMaterial
	if KeySpec(k.Spec).Asymmetric() {
		unwrap = s.unwrapPrivateKey
	}
	m, err := unwrap(ctx, k, w, req.EncryptedMaterial)
	if errors.Is(err, hsm.ErrBadCiphertext) {
		if KeySpec(k.Spec).Asymmetric() {
			return errorf(KindInvalidKeyMaterial, "EncryptedKeyMaterial does not decrypt to a %s private key with this import token", k.Spec)
		}
		return errorf(KindInvalidKeyMaterial, "EncryptedKeyMaterial does not decrypt to %d bytes of key material with this import token", KeySpec(k.Spec).MaterialSize())
	}
	if err != nil {
		counted = false
		return err
	}
	fp, err := s.fingerprint(ctx, KeySpec(k.Spec), m.kcv)
	if err != nil {
		counted = false
		s.destroyMaterial(ctx, m.object)
		return err
	}
	keep, replaced := false, "" // whether the key took the new material (else it had the same already)
	_, err = s.st.UpdateKey(ctx, k.ID, func(k *store.Key) error {
		if s.deleted(k) {
			return errorf(KindNotFound, "key %s not found", k.ID)
		}
		if err := s.allow(ctx, OpImport, k); err != nil {
			return err
		}
		if k.Fingerprint != nil && !bytes.Equal(k.Fingerprint, fp) {
			return errorf(KindMaterialNotMatch, "the key material differs from the material this key had before")
		}
		if !k.HasMaterial() || s.materialExpired(k) {
			keep, replaced = true, k.HSMObject // expired material not yet collected is replaced
			k.Fingerprint = fp
			k.SealedMat, k.HSMObject = m.sealed, m.object
			if m.public != nil {
				k.PublicKey = m.public
			}
			k.MaterialGen++
		}
		k.MaterialExp = req.MaterialExpires.UTC()
		if KeyState(k.State) == StatePendingImport {
			k.State = string(StateEnabled) // a Disabled key stays Disabled
		}
		return nil
	})
	if err != nil {
		s.destroyUnrecorded(ctx, m.object, err)
	} else if !keep {
		s.destroyMaterial(ctx, m.object)
	} else {
		s.destroyMaterial(ctx, replaced)
	}
	if err != nil {
		// Material that decrypts but differs from the key's is a failed
		// attempt like any other: it too tells an attacker something.
		counted = errors.Is(err, KindMaterialNotMatch)
		return storeError("import key material", err)
	}
	counted = false
	s.log.Info("key material imported", "key_id", k.ID, "algorithm", t.algorithm, "new_material", keep)
	return nil
}

// newMaterial is material ready for a key: a token object or a sealed
// copy, and its check value.
type newMaterial struct {
	object string
	sealed []byte
	kcv    []byte
	public []byte // an asymmetric key's public half, which is its check value too
}

// unwrapMaterial decrypts with the wrapping key in the HSM; any failure
// caused by the ciphertext is hsm.ErrBadCiphertext, wrong length included.
func (s *Service) unwrapMaterial(ctx context.Context, k *store.Key, w *store.WrappingKey, ct []byte) (newMaterial, error) {
	how := wrapping[WrappingAlgorithm(w.Algorithm)]
	size := KeySpec(k.Spec).MaterialSize()
	keyBytes := hsmSpec(WrappingKeySpec(w.Spec)).RSABits() / 8 // the envelope's encrypted ephemeral key
	if inToken(k) {
		id, err := s.newObjectID(ctx)
		if err != nil {
			return newMaterial{}, err
		}
		imp, err := s.tok.ImportAES(ctx, hsm.ImportRequest{
			ID: id, WrappingKey: hsm.KeyID(w.ID), Algorithm: how.alg, Envelope: how.envelope, KeyBytes: keyBytes,
			Ciphertext: ct, Size: size, Label: s.materialLabel(k.ID),
		})
		if err != nil {
			s.abandon(ctx, id, err)
			return newMaterial{}, importError(err)
		}
		return newMaterial{object: string(imp.ID), kcv: imp.CheckValue}, nil
	}
	m, err := s.openEnvelope(ctx, w, how.alg, how.envelope, keyBytes, ct)
	if err != nil {
		return newMaterial{}, err
	}
	defer clear(m)
	if len(m) != size {
		return newMaterial{}, hsm.ErrBadCiphertext
	}
	kcv, err := checkValue(KeySpec(k.Spec), m)
	if err != nil {
		return newMaterial{}, wrapErr(KindInternal, err, "check value")
	}
	sealed, err := s.sealMaterial(ctx, k, m)
	if err != nil {
		return newMaterial{}, err
	}
	return newMaterial{sealed: sealed, kcv: kcv}, nil
}

func importError(err error) error {
	switch {
	case errors.Is(err, hsm.ErrBadCiphertext):
		return hsm.ErrBadCiphertext
	case errors.Is(err, hsm.ErrNotFound):
		return wrapErr(KindInvalidImportToken, err, "ImportToken is no longer valid")
	}
	return hsmError("decrypt key material", err)
}

// reserveAttempt checks the token's wrapping key against the token and the
// cap, and counts this attempt as a failure, atomically.
func (s *Service) reserveAttempt(ctx context.Context, t importToken) (*store.WrappingKey, error) {
	invalid := errorf(KindInvalidImportToken, "ImportToken is no longer valid")
	w, err := s.st.UpdateIssued(ctx, t.wrappingKey, func(w *store.WrappingKey) error {
		if w.KeyID != t.keyID || WrappingAlgorithm(w.Algorithm) != t.algorithm || w.Failures >= s.opt.MaxDecryptFailures {
			return invalid
		}
		w.Failures++
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid
	}
	if err != nil {
		return nil, storeError("count import attempt", err)
	}
	return w, nil
}

// releaseAttempt uncounts an attempt that did not fail on its ciphertext.
func (s *Service) releaseAttempt(ctx context.Context, id string) {
	_, err := s.st.UpdateIssued(context.WithoutCancel(ctx), id, func(w *store.WrappingKey) error {
		if w.Failures > 0 {
			w.Failures--
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("uncount import attempt", "wrapping_key", id, "err", err)
	}
}

// afterFailure destroys a wrapping key whose counted failures reached the
// cap, which burns every token issued with it.
func (s *Service) afterFailure(ctx context.Context, w *store.WrappingKey) {
	if w.Failures >= s.opt.MaxDecryptFailures {
		s.log.Warn("wrapping key destroyed after repeated failed decryptions", "wrapping_key", w.ID, "key_id", w.KeyID, "failures", w.Failures)
		s.destroyWrapping(context.WithoutCancel(ctx), w.ID)
	}
}

// DeleteKeyMaterial destroys an EXTERNAL key's material; the key returns
// to PendingImport and keeps its fingerprint, so only the same material
// can come back.
func (s *Service) DeleteKeyMaterial(ctx context.Context, keyID string) error {
	k, err := s.getKey(ctx, keyID)
	if err != nil {
		return err
	}
	if Origin(k.Origin) != OriginExternal {
		return errorf(KindUnsupportedOrigin, "key material can be deleted only from keys whose Origin is EXTERNAL")
	}
	var object string
	_, err = s.st.UpdateKey(ctx, k.ID, func(k *store.Key) error {
		if err := s.allow(ctx, OpDeleteMaterial, k); err != nil {
			return err
		}
		object = k.HSMObject
		if k.HasMaterial() {
			k.MaterialGen++
		}
		k.SealedMat, k.HSMObject, k.MaterialExp = nil, "", time.Time{}
		if KeyState(k.State) != StatePendingDeletion { // a key pending deletion stays so, as on Alibaba Cloud
			k.State = string(StatePendingImport)
		}
		return nil
	})
	if err != nil {
		return storeError("delete key material", err)
	}
	s.destroyMaterial(ctx, object)
	return nil
}

// openEnvelope decrypts material that is to be sealed, with the wrapping
// key in the HSM: the material itself, or an envelope's ephemeral key,
// which then unwraps the material here. Any failure caused by the
// ciphertext is hsm.ErrBadCiphertext.
func (s *Service) openEnvelope(ctx context.Context, w *store.WrappingKey, alg hsm.Algorithm, env hsm.Envelope, keyBytes int, ct []byte) ([]byte, error) {
	if env == hsm.EnvelopeNone {
		m, err := s.tok.Decrypt(ctx, hsm.KeyID(w.ID), alg, ct)
		if err != nil {
			return nil, importError(err)
		}
		return m, nil
	}
	if keyBytes <= 0 || len(ct) <= keyBytes {
		return nil, hsm.ErrBadCiphertext
	}
	kek, err := s.tok.Decrypt(ctx, hsm.KeyID(w.ID), alg, ct[:keyBytes])
	if err != nil {
		return nil, importError(err)
	}
	defer clear(kek)
	if len(kek) != 32 {
		return nil, hsm.ErrBadCiphertext
	}
	m, err := keywrap.Unwrap(kek, ct[keyBytes:])
	if err != nil {
		return nil, hsm.ErrBadCiphertext
	}
	return m, nil
}
