package hsm

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/miekg/pkcs11"
)

const (
	gcmNonceSize = 12
	gcmTagBits   = 128
)

// secretUsage is the template of every secret key this layer makes: token
// object, sensitive, never extractable, and every usage not named in allow
// set false explicitly (tokens default unset usages to true). CKA_MODIFIABLE
// is left alone: SoftHSM2 refuses it in a C_UnwrapKey template, and the
// flags that matter can only be tightened once set.
func secretUsage(allow ...uint) []*pkcs11.Attribute {
	usages := []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP,
		pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_DERIVE}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}
	for _, u := range usages {
		on := false
		for _, a := range allow {
			on = on || a == u
		}
		tmpl = append(tmpl, pkcs11.NewAttribute(u, on))
	}
	return tmpl
}

// SecretKey finds the secret key labelled label or, if the token has none,
// creates it. Master keys are made once and never leave the token.
func (h *HSM) SecretKey(ctx context.Context, label string, kind SecretKind) (KeyID, error) {
	if label == "" {
		return "", fmt.Errorf("secret key: empty label")
	}
	var id KeyID
	err := h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		c.secretMu.Lock() // create-once within the process
		defer c.secretMu.Unlock()
		handles, err := c.find(s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		})
		if err != nil {
			return err
		}
		if len(handles) > 1 {
			return fmt.Errorf("secret key %q: %d objects carry that label", label, len(handles))
		}
		if len(handles) == 1 {
			attrs, err := c.mod.GetAttributeValue(s, handles[0], []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
				pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
			})
			if err != nil {
				return fmt.Errorf("read secret key %q: %w", label, err)
			}
			id = KeyID(hex.EncodeToString(attrs[0].Value))
			c.keys.put(id, &keyEntry{handle: handles[0], class: pkcs11.CKO_SECRET_KEY, keyType: attrUint(attrs[1])})
			return nil
		}
		raw, newID, err := newKeyID()
		if err != nil {
			return err
		}
		var mech, keyType uint
		var tmpl []*pkcs11.Attribute
		switch kind {
		case AES256:
			mech, keyType = pkcs11.CKM_AES_KEY_GEN, pkcs11.CKK_AES
			tmpl = secretUsage(pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT)
		case HMACSHA256:
			mech, keyType = pkcs11.CKM_GENERIC_SECRET_KEY_GEN, pkcs11.CKK_GENERIC_SECRET
			tmpl = secretUsage(pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY)
		default:
			return fmt.Errorf("%w: secret key kind %d", ErrUnsupported, kind)
		}
		tmpl = append(tmpl,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_ID, raw),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label))
		handle, err := c.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, tmpl)
		if err != nil {
			return fmt.Errorf("generate secret key %q: %w", label, err)
		}
		id = newID
		c.keys.put(id, &keyEntry{handle: handle, class: pkcs11.CKO_SECRET_KEY, keyType: keyType})
		h.log.Info("hsm: created secret key", "label", label, "id", id)
		return nil
	})
	return id, err
}

// Seal encrypts plaintext with AES-256-GCM inside the token under key id.
// The nonce comes from the token's generator.
func (h *HSM) Seal(ctx context.Context, id KeyID, plaintext, aad []byte) ([]byte, error) {
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.secret(s, id, pkcs11.CKK_AES)
		if err != nil {
			return err
		}
		nonce, err := c.mod.GenerateRandom(s, gcmNonceSize)
		if err != nil {
			return fmt.Errorf("nonce: %w", err)
		}
		params := pkcs11.NewGCMParams(nonce, aad, gcmTagBits)
		defer params.Free()
		if err := c.mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, e.handle); err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		ct, err := c.mod.Encrypt(s, plaintext)
		if err != nil {
			return fmt.Errorf("seal: %w", err)
		}
		out = append(nonce, ct...)
		return nil
	})
	return out, err
}

// Open decrypts what Seal produced. Any failure is ErrBadCiphertext.
func (h *HSM) Open(ctx context.Context, id KeyID, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < gcmNonceSize+gcmTagBits/8 {
		return nil, ErrBadCiphertext
	}
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.secret(s, id, pkcs11.CKK_AES)
		if err != nil {
			return err
		}
		params := pkcs11.NewGCMParams(sealed[:gcmNonceSize], aad, gcmTagBits)
		defer params.Free()
		if err := c.mod.DecryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, e.handle); err != nil {
			return err
		}
		out, err = c.mod.Decrypt(s, sealed[gcmNonceSize:])
		return err
	})
	return out, decryptError(err)
}

// MAC computes HMAC-SHA256 inside the token under key id.
func (h *HSM) MAC(ctx context.Context, id KeyID, data []byte) ([]byte, error) {
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.secret(s, id, pkcs11.CKK_GENERIC_SECRET)
		if err != nil {
			return err
		}
		if err := c.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, e.handle); err != nil {
			return fmt.Errorf("hmac: %w", err)
		}
		out, err = c.mod.Sign(s, data)
		if err != nil {
			return fmt.Errorf("hmac: %w", err)
		}
		return nil
	})
	return out, err
}

// secret returns the cached secret key id, checking its type.
func (c *conn) secret(s pkcs11.SessionHandle, id KeyID, keyType uint) (*keyEntry, error) {
	e, err := c.key(s, id)
	if err != nil {
		return nil, err
	}
	if e.class != pkcs11.CKO_SECRET_KEY || e.keyType != keyType {
		return nil, fmt.Errorf("%w: key %s is not of the kind this operation needs", ErrUnsupported, id)
	}
	return e, nil
}
