package hsm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// rsaBits is the modulus size of the probe's RSA pairs.
const rsaBits = 2048

// rsaCiphertextSize reports whether n bytes can be an RSA ciphertext of a
// pair Keyport makes (2048, 3072 or 4096 bits); the token checks it against
// the key's own modulus.
func rsaCiphertextSize(n int) bool { return n == 256 || n == 384 || n == 512 }

// NewKeyID returns a random id for an object about to be made, so that the
// caller can record it first (GenerateKeyPair, ImportRequest.ID,
// SecretKeyRequest.NewID).
func NewKeyID() (KeyID, error) {
	_, id, err := newKeyID()
	return id, err
}

// keyIDOr returns the CKA_ID of id, or of a random one if id is empty.
func keyIDOr(id KeyID) ([]byte, KeyID, error) {
	if id == "" {
		return newKeyID()
	}
	raw, err := hex.DecodeString(string(id))
	if err != nil || len(raw) != 16 {
		return nil, "", fmt.Errorf("key id %q: want 32 hex digits", id)
	}
	return raw, id, nil
}

// newKeyID returns a random CKA_ID and its KeyID.
func newKeyID() ([]byte, KeyID, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("key id: %w", err)
	}
	return raw, KeyID(hex.EncodeToString(raw)), nil
}

// publicKeyUsage is the usage template of every wrapping public key: users
// encrypt to it outside the token, so inside it may do nothing.
var publicKeyUsage = []*pkcs11.Attribute{
	pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
	pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
	pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
	pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
}

// decryptRSA decrypts with the path detected at start-up for alg: the token's
// own mechanism, or raw RSA in the token and OAEP decoding here.
func (h *HSM) decryptRSA(ctx context.Context, id KeyID, alg Algorithm, ct []byte) ([]byte, error) {
	if !rsaCiphertextSize(len(ct)) {
		return nil, ErrBadCiphertext
	}
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.key(s, id)
		if err != nil {
			return err
		}
		if e.keyType != pkcs11.CKK_RSA {
			return fmt.Errorf("%w: key %s is not an RSA key", ErrUnsupported, id)
		}
		switch h.caps.Decrypt[alg] {
		case PathNative:
			out, err = c.decryptOnce(s, rsaMechanism(alg), e.handle, ct)
			return err
		case PathRawRSA:
			out, err = c.rawRSA(s, e.handle, ct)
			if err != nil {
				return err
			}
			msg, derr := oaepDecode(oaepHash(alg), out, nil)
			if derr != nil {
				wipe(out)
				return derr
			}
			out = msg
			return nil
		}
		return fmt.Errorf("%w: %s", ErrUnsupported, alg)
	})
	if err = decryptError(err); err != nil {
		return nil, err
	}
	return out, nil
}

// rawRSA computes c^d mod n in the token (CKM_RSA_X_509), left-padded to k bytes.
func (c *conn) rawRSA(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, ct []byte) ([]byte, error) {
	if err := c.mod.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_X_509, nil)}, key); err != nil {
		return nil, err
	}
	out, err := c.mod.Decrypt(s, ct)
	if err != nil {
		return nil, err
	}
	defer wipe(out)
	return leftPad(out, len(ct))
}

// leftPad copies em into a k-byte buffer, right-aligned. Some tokens drop
// leading zero bytes of a raw RSA result; whether they did depends on the
// plaintext, so the copy is the same whatever the length (no branch on
// it), as a length-dependent path would be a padding oracle.
func leftPad(em []byte, k int) ([]byte, error) {
	if len(em) > k {
		return nil, fmt.Errorf("raw RSA output of %d bytes for a %d-byte modulus", len(em), k)
	}
	out := make([]byte, k)
	copy(out[k-len(em):], em)
	return out, nil
}

// decryptError funnels every decryption failure into ErrBadCiphertext, except
// those that say nothing about the ciphertext: the token is away, the key is
// unknown, the algorithm unsupported.
func decryptError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrNotFound),
		errors.Is(err, ErrUnsupported), errors.Is(err, ErrClosed):
		return err
	}
	return ErrBadCiphertext
}

// wipe zeroes a buffer that held key material.
func wipe(b []byte) {
	clear(b)
}
