package hsm

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rand"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/keywrap"
)

// RSA-AES key wrap (PKCS#11's CKM_RSA_AES_KEY_WRAP, AWS's
// RSA_AES_KEY_WRAP_SHA_*): the ciphertext is an ephemeral AES-256 key
// encrypted to the wrapping key with RSA-OAEP, followed by the material
// under that key with AES key wrap with padding (RFC 5649). Few tokens
// have the one-step mechanism, so the token does it in two: the ephemeral
// key becomes a session object (unwrapped in the token where its OAEP
// can, else decrypted, created and wiped), and the material is unwrapped
// under it into its token object, never entering this process, where the
// token's key wrap with padding is RFC 5649's (the probe checks it
// against keywrap). Otherwise the material is unwrapped here and created.

// Envelope is how material sits inside an ImportRequest's Ciphertext.
type Envelope int

const (
	EnvelopeNone          Envelope = iota // the material encrypted to the wrapping key
	EnvelopeAESKeyWrapPad                 // an AES-256 key encrypted to the wrapping key, then the material under it (RFC 5649)
)

// kwpMechanisms are the mechanisms tokens name RFC 5649 by: PKCS#11 2.40's
// CKM_AES_KEY_WRAP_PAD (SoftHSM2 implements it so) and 3.0's
// CKM_AES_KEY_WRAP_KWP. The probe keeps the first that unwraps what
// keywrap wraps.
var kwpMechanisms = []uint{pkcs11.CKM_AES_KEY_WRAP_PAD, 0x0000210B}

// ephemeralKeySize is the AES-256 key RSA-AES key wrap carries.
const ephemeralKeySize = 32

// kekTemplate describes an ephemeral key-encryption key: a session AES
// object that may only unwrap.
func kekTemplate() []*pkcs11.Attribute {
	return secretTemplate(pkcs11.CKK_AES, false, pkcs11.CKA_UNWRAP)
}

// probeKeyWrap finds the token's RFC 5649 unwrap: material wrapped here
// under a known key must unwrap in the token to a key with the same check
// value.
func (c *conn) probeKeyWrap(s pkcs11.SessionHandle, caps *Capabilities) {
	kek, material := make([]byte, ephemeralKeySize), make([]byte, 32)
	_, _ = rand.Read(kek)
	_, _ = rand.Read(material)
	wrapped, err := keywrap.Wrap(kek, material)
	if err != nil {
		return
	}
	want := make([]byte, aes.BlockSize)
	block, _ := aes.NewCipher(material)
	block.Encrypt(want, want)
	kekH, err := c.mod.CreateObject(s, append(kekTemplate(), pkcs11.NewAttribute(pkcs11.CKA_VALUE, kek)))
	if err != nil {
		return
	}
	defer func() { _ = c.mod.DestroyObject(s, kekH) }()
	for _, mech := range kwpMechanisms {
		h, err := c.mod.UnwrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, kekH, wrapped,
			secretTemplate(pkcs11.CKK_AES, false, pkcs11.CKA_ENCRYPT)) // the length is the unwrapped key's: tokens refuse CKA_VALUE_LEN here
		if err != nil {
			continue
		}
		kcv, err := c.checkValue(s, h)
		_ = c.mod.DestroyObject(s, h)
		if err == nil && bytes.Equal(kcv, want) {
			caps.KeyWrapPad = mech
			return
		}
	}
}

// importKeyWrapped makes RSA-AES-key-wrapped material an AES key object.
func (h *HSM) importKeyWrapped(ctx context.Context, req ImportRequest) (Imported, error) {
	if req.KeyBytes <= 0 || len(req.Ciphertext) < req.KeyBytes+16 {
		return Imported{}, ErrBadCiphertext
	}
	head, body := req.Ciphertext[:req.KeyBytes], req.Ciphertext[req.KeyBytes:]
	inToken := h.caps.Unwrap[req.Algorithm] && h.caps.KeyWrapPad != 0
	var kek []byte // the ephemeral key, where it must pass through here
	if !inToken {
		var err error
		if kek, err = h.Decrypt(ctx, req.WrappingKey, req.Algorithm, head); err != nil {
			return Imported{}, err
		}
		defer wipe(kek)
		if len(kek) != ephemeralKeySize {
			return Imported{}, ErrBadCiphertext
		}
	}
	if h.caps.KeyWrapPad == 0 {
		material, err := keywrap.Unwrap(kek, body)
		if err != nil {
			return Imported{}, ErrBadCiphertext
		}
		defer wipe(material)
		return h.createAES(ctx, req, material)
	}
	raw, id, err := keyIDOr(req.ID)
	if err != nil {
		return Imported{}, err
	}
	out := Imported{ID: id}
	err = h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		var kekH pkcs11.ObjectHandle
		if inToken {
			e, err := c.key(s, req.WrappingKey)
			if err != nil {
				return err
			}
			if kekH, err = c.mod.UnwrapKey(s, rsaMechanism(req.Algorithm), e.handle, head, kekTemplate()); err != nil {
				return err
			}
			attrs, err := c.mod.GetAttributeValue(s, kekH, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil)})
			if err != nil || attrUint(attrs[0]) != ephemeralKeySize {
				_ = c.mod.DestroyObject(s, kekH)
				return ErrBadCiphertext
			}
		} else if kekH, err = c.mod.CreateObject(s, append(kekTemplate(), pkcs11.NewAttribute(pkcs11.CKA_VALUE, kek))); err != nil {
			return fmt.Errorf("%w: create the ephemeral key: %w", ErrUnavailable, err)
		}
		defer func() { _ = c.mod.DestroyObject(s, kekH) }()
		handle, err := c.mod.UnwrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(h.caps.KeyWrapPad, nil)}, kekH, body, materialTemplate(raw, req.Label))
		if err != nil {
			return err
		}
		// SoftHSM2 leaves CKA_VALUE_LEN unset (0) on a key it unwraps so,
		// and refuses it in the template. The wrapped length then bounds
		// the material to one block's worth of lengths (Size−7 to Size, as
		// Size is a multiple of 8), of which only Size is an AES key's:
		// a key the token cannot encrypt with is the wrong length.
		attrs, err := c.mod.GetAttributeValue(s, handle, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil)})
		n := uint(0)
		if err == nil {
			n = attrUint(attrs[0])
		}
		_, kcvErr := c.checkValue(s, handle)
		if len(body) != req.Size+8 || (n != 0 && n != uint(req.Size)) || kcvErr != nil {
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
