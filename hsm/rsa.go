package hsm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

const rsaBits = 2048

// newKeyID returns a random CKA_ID and its KeyID.
func newKeyID() ([]byte, KeyID, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", fmt.Errorf("key id: %w", err)
	}
	return raw, KeyID(hex.EncodeToString(raw)), nil
}

// generateRSA makes an RSA-2048 wrapping pair with crypto11. The private half
// is sensitive, never extractable and may only decrypt (and unwrap where
// the token unwraps).
func (c *conn) generateRSA(s pkcs11.SessionHandle, label string, policy []*pkcs11.Attribute) (KeyPair, error) {
	raw, id, err := newKeyID()
	if err != nil {
		return KeyPair{}, err
	}
	pub, err := crypto11.NewAttributeSetWithIDAndLabel(raw, []byte(label))
	if err != nil {
		return KeyPair{}, err
	}
	priv := pub.Copy()
	pub.AddIfNotPresent(publicKeyUsage)
	priv.AddIfNotPresent(policy)
	pair, err := c.c11.GenerateRSAKeyPairWithAttributes(pub, priv, rsaBits)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate RSA key pair: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pair.Public())
	if err != nil {
		return KeyPair{}, fmt.Errorf("encode RSA public key: %w", err)
	}
	// Cache the handle now, so that the first decryption does not search.
	handles, err := c.find(s, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_ID, raw),
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
	})
	if err != nil || len(handles) != 1 {
		return KeyPair{}, fmt.Errorf("find new RSA key %s: %d handles: %w", id, len(handles), err)
	}
	c.keys.put(id, &keyEntry{handle: handles[0], class: pkcs11.CKO_PRIVATE_KEY, keyType: pkcs11.CKK_RSA, rsa: pair})
	return KeyPair{ID: id, Spec: RSA2048, PublicDER: der}, nil
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
// own mechanism through crypto11, or raw RSA in the token and OAEP decoding here.
func (h *HSM) decryptRSA(ctx context.Context, id KeyID, alg Algorithm, ct []byte) ([]byte, error) {
	if len(ct) != rsaBits/8 {
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
			out, err = e.rsa.Decrypt(nil, ct, rsaOptions(alg))
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
	return out, decryptError(err)
}

func rsaOptions(alg Algorithm) crypto.DecrypterOpts {
	switch alg {
	case RSAOAEPSHA1:
		return &rsa.OAEPOptions{Hash: crypto.SHA1}
	case RSAOAEPSHA256:
		return &rsa.OAEPOptions{Hash: crypto.SHA256}
	}
	return &rsa.PKCS1v15DecryptOptions{}
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
