package service

import (
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/emmansun/gmsm/sm4"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/store"
)

// Encrypt encrypts up to 6 KiB under an Enabled key, binding the
// encryption context.
func (s *Service) Encrypt(ctx context.Context, req EncryptRequest) (*EncryptResponse, error) {
	if len(req.Plaintext) == 0 || len(req.Plaintext) > MaxPlaintext {
		return nil, errorf(KindInvalidParameter, "Plaintext must be 1 to %d bytes", MaxPlaintext)
	}
	if contextSize(req.Context) > MaxContextBytes {
		return nil, errorf(KindInvalidParameter, "EncryptionContext is larger than %d bytes", MaxContextBytes)
	}
	k, err := s.usableKey(ctx, req.KeyID)
	if err != nil {
		return nil, err
	}
	blob, err := s.seal(ctx, k, req.Plaintext, req.Context)
	if err != nil {
		return nil, err
	}
	return &EncryptResponse{KeyID: k.ID, KeyVersionID: k.VersionID, CiphertextBlob: blob}, nil
}

// Decrypt decrypts a blob made by Encrypt or GenerateDataKey; the blob
// names its key.
func (s *Service) Decrypt(ctx context.Context, req DecryptRequest) (*DecryptResponse, error) {
	seal, err := req.Recipient.sealer()
	if err != nil {
		return nil, err
	}
	k, header, sealed, err := s.blobKey(ctx, req.CiphertextBlob, req.ArchivedIsDisabled)
	if err != nil {
		return nil, err
	}
	aad := append(header, canonicalContext(req.Context)...)
	var pt []byte
	if inToken(k) {
		pt, err = s.tok.Open(ctx, s.materialSealKey(k), sealed, aad)
		if errors.Is(err, hsm.ErrBadCiphertext) {
			return nil, errorf(KindInvalidCiphertext, "the ciphertext does not decrypt with this key and EncryptionContext")
		}
		if err != nil {
			return nil, hsmError("decrypt", err)
		}
	} else {
		err = s.withMaterial(ctx, k, func(a cipher.AEAD) error {
			var oerr error
			pt, oerr = a.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
			if oerr != nil {
				return errorf(KindInvalidCiphertext, "the ciphertext does not decrypt with this key and EncryptionContext")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if pt, err = sealFor(seal, pt); err != nil {
		return nil, err
	}
	return &DecryptResponse{KeyID: k.ID, KeyVersionID: k.VersionID, Plaintext: pt}, nil
}

// GenerateDataKey returns a fresh random data key in the clear and
// encrypted under the CMK.
func (s *Service) GenerateDataKey(ctx context.Context, req GenerateDataKeyRequest) (*GenerateDataKeyResponse, error) {
	seal, err := req.Recipient.sealer()
	if err != nil {
		return nil, err
	}
	n := req.NumberOfBytes
	switch {
	case n < 0 || n > MaxDataKeyBytes:
		return nil, errorf(KindInvalidParameter, "NumberOfBytes must be from 1 to %d", MaxDataKeyBytes)
	case n > 0:
	case req.KeySpec == "" || req.KeySpec == "AES_256":
		n = 32
	case req.KeySpec == "AES_128":
		n = 16
	default:
		return nil, errorf(KindInvalidParameter, "KeySpec %q is not supported; use AES_256 or AES_128", req.KeySpec)
	}
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return nil, wrapErr(KindInternal, err, "generate data key")
	}
	enc, err := s.Encrypt(ctx, EncryptRequest{KeyID: req.KeyID, Plaintext: dk, Context: req.Context})
	if err != nil {
		clear(dk)
		return nil, err
	}
	if dk, err = sealFor(seal, dk); err != nil {
		return nil, err
	}
	return &GenerateDataKeyResponse{KeyID: enc.KeyID, KeyVersionID: enc.KeyVersionID, Plaintext: dk, CiphertextBlob: enc.CiphertextBlob}, nil
}

// usableKey loads a key that may encrypt now, without its retired versions.
func (s *Service) usableKey(ctx context.Context, keyID string) (*store.Key, error) {
	k, err := s.getPrimary(ctx, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, OpUse, k); err != nil {
		return nil, err
	}
	return k, nil
}

// materialSealKey is how token-held material seals data: the material key,
// with the master MAC key where the token's scheme is encrypt-then-MAC.
func (s *Service) materialSealKey(k *store.Key) hsm.SealKey {
	return hsm.SealKey{Cipher: hsm.KeyID(k.HSMObject), MAC: s.macKey}
}

func (s *Service) cipherFor(k *store.Key) byte {
	switch {
	case KeySpec(k.Spec) == SpecSM4:
		return cipherSM4
	case inToken(k) && s.etm:
		return cipherAES256ETM
	}
	return cipherAES256
}

// seal encrypts pt into a blob: inside the token for token-held material,
// else with the unsealed material for this one operation.
func (s *Service) seal(ctx context.Context, k *store.Key, pt []byte, ec map[string]string) ([]byte, error) {
	header := blobHeader{cipher: s.cipherFor(k), keyID: k.ID, keyVersionID: k.VersionID}.marshal()
	aad := append(append([]byte{}, header...), canonicalContext(ec)...)
	if inToken(k) {
		sealed, err := s.tok.Seal(ctx, s.materialSealKey(k), pt, aad)
		if err != nil {
			return nil, hsmError("encrypt", err)
		}
		return append(header, sealed...), nil
	}
	var blob []byte
	err := s.withMaterial(ctx, k, func(a cipher.AEAD) error {
		nonce := make([]byte, nonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return wrapErr(KindInternal, err, "nonce")
		}
		blob = a.Seal(append(header, nonce...), nonce, pt, aad)
		return nil
	})
	return blob, err
}

// withMaterial unseals the key's material, runs fn with its GCM and wipes
// the material.
func (s *Service) withMaterial(ctx context.Context, k *store.Key, fn func(cipher.AEAD) error) error {
	m, err := s.openMaterial(ctx, k)
	if err != nil {
		return err
	}
	defer clear(m)
	var block cipher.Block
	if KeySpec(k.Spec) == SpecSM4 {
		block, err = sm4.NewCipher(m)
	} else {
		block, err = aes.NewCipher(m)
	}
	if err != nil {
		return wrapErr(KindInternal, err, "key %s material", k.ID)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return wrapErr(KindInternal, err, "GCM")
	}
	return fn(a)
}

// ReEncryptRequest moves a ciphertext to another key (or to the same
// key's primary version, or another context) without showing the
// plaintext to the caller. An empty DestinationKeyID is the source key.
type ReEncryptRequest struct {
	CiphertextBlob     []byte
	SourceContext      map[string]string
	DestinationKeyID   string
	DestinationContext map[string]string
	ArchivedIsDisabled bool // of the source key: as in DecryptRequest
}

// ReEncryptResponse names both the source and the destination.
type ReEncryptResponse struct {
	SourceKeyID        string
	SourceKeyVersionID string
	KeyID              string
	KeyVersionID       string
	CiphertextBlob     []byte
}

// ReEncrypt decrypts and encrypts again; the plaintext lives only between.
func (s *Service) ReEncrypt(ctx context.Context, req ReEncryptRequest) (*ReEncryptResponse, error) {
	// The destination is checked first: a refusal costs no decryption and
	// puts no plaintext in memory.
	to, from := as(ctx, Permission{RAM: reEncryptTo}), as(ctx, Permission{RAM: reEncryptFrom})
	if req.DestinationKeyID != "" && restricted(ctx) {
		if _, err := s.getPrimary(to, req.DestinationKeyID); err != nil {
			return nil, err
		}
	}
	dec, err := s.Decrypt(from, DecryptRequest{CiphertextBlob: req.CiphertextBlob, Context: req.SourceContext, ArchivedIsDisabled: req.ArchivedIsDisabled})
	if err != nil {
		return nil, err
	}
	defer clear(dec.Plaintext)
	dest := cmp.Or(req.DestinationKeyID, dec.KeyID)
	enc, err := s.Encrypt(to, EncryptRequest{KeyID: dest, Plaintext: dec.Plaintext, Context: req.DestinationContext})
	if err != nil {
		return nil, err
	}
	return &ReEncryptResponse{SourceKeyID: dec.KeyID, SourceKeyVersionID: dec.KeyVersionID,
		KeyID: enc.KeyID, KeyVersionID: enc.KeyVersionID, CiphertextBlob: enc.CiphertextBlob}, nil
}

// CheckEncrypt answers whether Encrypt (or GenerateDataKey) under keyID
// would be allowed now, without doing it: Alibaba Cloud's DryRun.
func (s *Service) CheckEncrypt(ctx context.Context, keyID string) error {
	_, err := s.usableKey(ctx, keyID)
	return err
}

// CheckDecrypt answers whether the blob names a key version that may
// decrypt now, without decrypting; archivedIsDisabled as in DecryptRequest.
func (s *Service) CheckDecrypt(ctx context.Context, blob []byte, archivedIsDisabled bool) error {
	_, _, _, err := s.blobKey(ctx, blob, archivedIsDisabled)
	return err
}

// blobKey parses a blob and loads the key version it names, if that key
// may decrypt now (Enabled, or Archived): the key as of that version, the
// blob's header and its sealed part. A dialect that shows Archived as
// Disabled (archivedIsDisabled) has it refused as Disabled.
func (s *Service) blobKey(ctx context.Context, blob []byte, archivedIsDisabled bool) (*store.Key, []byte, []byte, error) {
	h, header, sealed, err := parseBlob(blob)
	if err != nil {
		return nil, nil, nil, wrapErr(KindInvalidCiphertext, err, "CiphertextBlob is not a Keyport ciphertext")
	}
	// Most ciphertexts are of the primary version: its record alone
	// decrypts them, and only an older version's needs the versions read.
	k, err := s.getPrimary(ctx, h.keyID)
	if err == nil && h.keyVersionID != k.VersionID && k.Retired > 0 {
		k, err = s.getKey(ctx, h.keyID)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if s.state(k) == StateArchived && archivedIsDisabled {
		return nil, nil, nil, errorf(KindDisabled, "the key is disabled") // as the dialect shows it
	}
	if err := s.allow(ctx, OpDecrypt, k); err != nil {
		return nil, nil, nil, err
	}
	k, ok := version(k, h.keyVersionID)
	if !ok || h.cipher != s.cipherFor(k) {
		return nil, nil, nil, errorf(KindInvalidCiphertext, "CiphertextBlob does not belong to a version of this key")
	}
	wire.UseVersion(ctx, k.ID, k.VersionID)
	return k, header, sealed, nil
}
