package hsm

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
)

// ImportAES makes encrypted key material a non-extractable AES key in the
// token. Where the token can unwrap with the algorithm (C_UnwrapKey) the
// material never enters this process; otherwise (OAEP-SHA-256 and SM2PKE on
// SoftHSM2) it is decrypted, created as an object and the buffer wiped.
// The material length is checked here: tokens accept any length as "AES".
func (h *HSM) ImportAES(ctx context.Context, req ImportRequest) (Imported, error) {
	if req.Size != 16 && req.Size != 24 && req.Size != 32 {
		return Imported{}, fmt.Errorf("%w: AES key size %d", ErrUnsupported, req.Size)
	}
	switch {
	case req.Envelope == EnvelopeAESKeyWrapPad:
		return h.importKeyWrapped(ctx, req)
	case req.Envelope != EnvelopeNone:
		return Imported{}, fmt.Errorf("%w: envelope %d", ErrUnsupported, req.Envelope)
	case h.caps.Unwrap[req.Algorithm]:
		return h.unwrapAES(ctx, req)
	}
	material, err := h.Decrypt(ctx, req.WrappingKey, req.Algorithm, req.Ciphertext)
	if err != nil {
		return Imported{}, err
	}
	defer wipe(material)
	return h.createAES(ctx, req, material)
}

// createAES makes material that passed through this process an AES key
// object; the caller wipes material.
func (h *HSM) createAES(ctx context.Context, req ImportRequest, material []byte) (Imported, error) {
	if len(material) != req.Size {
		return Imported{}, ErrBadCiphertext
	}
	raw, id, err := keyIDOr(req.ID)
	if err != nil {
		return Imported{}, err
	}
	out := Imported{ID: id}
	err = h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		tmpl := append(materialTemplate(raw, req.Label), pkcs11.NewAttribute(pkcs11.CKA_VALUE, material))
		handle, err := c.mod.CreateObject(s, tmpl)
		if err != nil {
			return fmt.Errorf("create AES key object: %w", err)
		}
		out.CheckValue, err = c.keepAES(s, id, handle)
		return err
	})
	if err != nil {
		return Imported{}, err
	}
	return out, nil
}

// keepAES is the tail both import paths share: it makes sure the new AES
// key object is sensitive and never extractable, caches its handle, and
// returns its check value. Its failures are the token's, never the
// ciphertext's, so they say ErrUnavailable.
func (c *conn) keepAES(s pkcs11.SessionHandle, id KeyID, handle pkcs11.ObjectHandle) ([]byte, error) {
	if err := c.ensureProtected(s, handle); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c.keys.put(id, &keyEntry{handle: handle, class: pkcs11.CKO_SECRET_KEY, keyType: pkcs11.CKK_AES})
	kcv, err := c.checkValue(s, handle)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return kcv, nil
}

// checkValue encrypts a zero block with AES-ECB under key, in the token.
func (c *conn) checkValue(s pkcs11.SessionHandle, key pkcs11.ObjectHandle) ([]byte, error) {
	if err := c.mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, key); err != nil {
		return nil, fmt.Errorf("key check value: %w", err)
	}
	kcv, err := c.mod.Encrypt(s, make([]byte, 16))
	if err != nil {
		return nil, fmt.Errorf("key check value: %w", err)
	}
	return kcv, nil
}

func (h *HSM) unwrapAES(ctx context.Context, req ImportRequest) (Imported, error) {
	if !rsaCiphertextSize(len(req.Ciphertext)) {
		return Imported{}, ErrBadCiphertext
	}
	raw, id, err := keyIDOr(req.ID)
	if err != nil {
		return Imported{}, err
	}
	out := Imported{ID: id}
	err = h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.key(s, req.WrappingKey)
		if err != nil {
			return err
		}
		if e.keyType != pkcs11.CKK_RSA {
			return fmt.Errorf("%w: key %s is not an RSA key", ErrUnsupported, req.WrappingKey)
		}
		handle, err := c.mod.UnwrapKey(s, rsaMechanism(req.Algorithm), e.handle, req.Ciphertext, materialTemplate(raw, req.Label))
		if err != nil {
			return err
		}
		attrs, err := c.mod.GetAttributeValue(s, handle, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil)})
		if err != nil || attrUint(attrs[0]) != uint(req.Size) {
			_ = c.mod.DestroyObject(s, handle)
			return ErrBadCiphertext
		}
		out.CheckValue, err = c.keepAES(s, id, handle)
		return err
	})
	if err = decryptError(err); err != nil {
		return Imported{}, err
	}
	return out, nil
}

// materialTemplate describes an imported material key: AES, token object,
// sensitive, never extractable, encrypt and decrypt only.
func materialTemplate(rawID []byte, label string) []*pkcs11.Attribute {
	return append(secretUsage(pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_ID, rawID),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
}

// rsaMechanism is the token's own mechanism for an RSA algorithm.
func rsaMechanism(alg Algorithm) []*pkcs11.Mechanism {
	switch alg {
	case RSAOAEPSHA1:
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP,
			pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil))}
	case RSAOAEPSHA256:
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP,
			pkcs11.NewOAEPParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, pkcs11.CKZ_DATA_SPECIFIED, nil))}
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
}
