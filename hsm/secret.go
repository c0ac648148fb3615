package hsm

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/miekg/pkcs11"
)

// secretUsage is the template of every secret key this layer makes: token
// object, sensitive, never extractable, and every usage not named in allow
// set false explicitly (tokens default unset usages to true). CKA_MODIFIABLE
// is left alone: SoftHSM2 refuses it in a C_UnwrapKey template, and the
// flags that matter can only be tightened once set.
func secretUsage(allow ...uint) []*pkcs11.Attribute {
	return secretTemplate(0, true, allow...)
}

// secretTemplate is secretUsage for a token or session object, with a key
// type when keyType is not 0.
func secretTemplate(keyType uint, token bool, allow ...uint) []*pkcs11.Attribute {
	usages := []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP,
		pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY, pkcs11.CKA_DERIVE}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, token),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	}
	if keyType != 0 {
		tmpl = append(tmpl, pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType))
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

// SecretKey returns the secret key req names: the object with req.ID when
// set; else the one labelled req.Label, created when the token has none.
// A key found is used only if it is sensitive, was never extractable and
// has kind's key type, so that an object planted under a Keyport label by
// someone holding the PIN is refused instead of trusted.
func (h *HSM) SecretKey(ctx context.Context, req SecretKeyRequest) (KeyID, error) {
	keyType, mech, usage, err := secretKind(req.Kind)
	if err != nil {
		return "", err
	}
	var find []*pkcs11.Attribute
	switch {
	case req.ID != "":
		raw, err := req.ID.bytes()
		if err != nil {
			return "", err
		}
		find = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, raw)}
	case req.Label != "":
		find = []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, req.Label)}
	default:
		return "", fmt.Errorf("secret key: neither id nor label")
	}
	find = append(find, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY))
	name := req.Label
	if req.ID != "" {
		name = string(req.ID)
	}
	var id KeyID
	err = h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		c.secretMu.Lock() // find-or-create once within the process
		defer c.secretMu.Unlock()
		handles, err := c.find(s, find)
		if err != nil {
			return err
		}
		switch {
		case len(handles) > 1:
			return fmt.Errorf("secret key %q: %d objects match; remove the extra ones (keyport hsm objects)", name, len(handles))
		case len(handles) == 1:
			id, err = c.checkSecret(s, handles[0], name, keyType)
			return err
		case req.ID != "":
			return fmt.Errorf("%w: secret key %s is not on the token", ErrNotFound, req.ID)
		}
		raw, newID, err := keyIDOr(req.NewID)
		if err != nil {
			return err
		}
		tmpl := append(secretUsage(usage...), h.caps.unmodifiable()...)
		tmpl = append(tmpl,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_ID, raw),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, req.Label))
		handle, err := c.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, tmpl)
		if err != nil {
			return fmt.Errorf("generate secret key %q: %w", req.Label, err)
		}
		if err := c.ensureProtected(s, handle); err != nil {
			return err
		}
		id = newID
		c.keys.put(id, &keyEntry{handle: handle, class: pkcs11.CKO_SECRET_KEY, keyType: keyType})
		h.log.Info("hsm: created secret key", "label", req.Label, "id", id)
		return nil
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// secretKind is what making a secret key of kind takes: its key type, the
// generation mechanism and the usages it may have.
func secretKind(kind SecretKind) (keyType, mech uint, usage []uint, err error) {
	switch kind {
	case AES256:
		return pkcs11.CKK_AES, pkcs11.CKM_AES_KEY_GEN, []uint{pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT}, nil
	case HMACSHA256:
		return pkcs11.CKK_GENERIC_SECRET, pkcs11.CKM_GENERIC_SECRET_KEY_GEN, []uint{pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY}, nil
	}
	return 0, 0, nil, fmt.Errorf("%w: secret key kind %d", ErrUnsupported, kind)
}

// checkSecret accepts an existing secret key only if the token says it is
// of keyType, sensitive, never was extractable and always was sensitive,
// and caches its handle.
func (c *conn) checkSecret(s pkcs11.SessionHandle, handle pkcs11.ObjectHandle, name string, keyType uint) (KeyID, error) {
	attrs, err := c.mod.GetAttributeValue(s, handle, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
	})
	if err != nil {
		return "", fmt.Errorf("read secret key %q: %w", name, err)
	}
	if attrUint(attrs[1]) != keyType {
		return "", newError(ErrUnsafeKey, nil, "secret key %q is a %s key, not %s: refusing to use it", name, keyTypeName(attrUint(attrs[1])), keyTypeName(keyType))
	}
	if !attrBool(attrs[2]) || attrBool(attrs[3]) || !attrBool(attrs[4]) || !attrBool(attrs[5]) {
		return "", newError(ErrUnsafeKey, nil, "secret key %q is not sensitive and never extractable (it may have been imported or exported): refusing to use it", name)
	}
	id := KeyID(hex.EncodeToString(attrs[0].Value))
	c.keys.put(id, &keyEntry{handle: handle, class: pkcs11.CKO_SECRET_KEY, keyType: keyType})
	return id, nil
}

// MAC computes HMAC-SHA256 inside the token under key id.
func (h *HSM) MAC(ctx context.Context, id KeyID, data []byte) ([]byte, error) {
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		var err error
		out, err = c.hmac(s, id, data)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// hmac is HMAC-SHA256 under the token key id, on session s.
func (c *conn) hmac(s pkcs11.SessionHandle, id KeyID, data []byte) ([]byte, error) {
	e, err := c.secret(s, id, pkcs11.CKK_GENERIC_SECRET)
	if err != nil {
		return nil, err
	}
	if err := c.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, e.handle); err != nil {
		return nil, fmt.Errorf("hmac: %w", err)
	}
	out, err := c.mod.Sign(s, data)
	if err != nil {
		return nil, fmt.Errorf("hmac: %w", err)
	}
	return out, nil
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
