package hsm

import (
	"encoding/binary"

	"github.com/miekg/pkcs11"
)

// Key policies: what a key made here may do, as tightly as the token lets
// us say it. A PIN holder can use any object the token lets them use, so
// a wrapping key carries only the usages and mechanisms its algorithms
// take on this token, and cannot be changed afterwards where the token
// honours CKA_MODIFIABLE=false.

// privateKeyPolicy is the template of a wrapping private key of spec:
// token object, private, sensitive, never extractable, decryption only
// (RSA: unwrap too where the probe chose C_UnwrapKey; SM2: derive for the
// ECDH path), never sign.
func (caps Capabilities) privateKeyPolicy(spec PairSpec, sm2 SM2Profile) []*pkcs11.Attribute {
	rsaKey := spec.RSA()
	unwrap := false
	if rsaKey {
		for _, ok := range caps.Unwrap {
			unwrap = unwrap || ok
		}
	}
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, rsaKey || sm2.vendor()),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, unwrap),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, !rsaKey && !sm2.vendor()),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN_RECOVER, false),
	}
	if mechs := caps.mechanismsFor(spec, sm2.Decrypt); caps.AllowedMechanisms && len(mechs) > 0 {
		tmpl = append(tmpl, allowedMechanisms(mechs...))
	}
	return append(tmpl, caps.unmodifiable()...)
}

// mechanismsFor lists the mechanisms the detected paths use with a
// private key of spec: the token's own RSA mechanisms where they are
// native, CKM_RSA_X_509 only where an OAEP variant needs the raw path.
func (caps Capabilities) mechanismsFor(spec PairSpec, vendorSM2 uint) []uint {
	var out []uint
	add := func(m uint) {
		for _, have := range out {
			if have == m {
				return
			}
		}
		out = append(out, m)
	}
	for _, alg := range Algorithms() {
		if !alg.Fits(spec) {
			continue
		}
		switch caps.Decrypt[alg] {
		case PathNative:
			add(rsaMechanism(alg)[0].Mechanism)
		case PathRawRSA:
			add(pkcs11.CKM_RSA_X_509)
		case PathECDH:
			add(pkcs11.CKM_ECDH1_DERIVE)
		case PathVendor:
			add(vendorSM2)
		}
		if caps.Unwrap[alg] {
			add(rsaMechanism(alg)[0].Mechanism)
		}
	}
	return out
}

// unmodifiable is CKA_MODIFIABLE=false where the token accepts it.
func (caps Capabilities) unmodifiable() []*pkcs11.Attribute {
	if !caps.Unmodifiable {
		return nil
	}
	return []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false)}
}

// allowedMechanisms is CKA_ALLOWED_MECHANISMS: an array of CK_MECHANISM_TYPE
// (CK_ULONG, host byte order).
func allowedMechanisms(mechs ...uint) *pkcs11.Attribute {
	v := make([]byte, 0, 8*len(mechs))
	for _, m := range mechs {
		v = binary.NativeEndian.AppendUint64(v, uint64(m))
	}
	return pkcs11.NewAttribute(pkcs11.CKA_ALLOWED_MECHANISMS, v)
}

// probePolicy finds out whether the token takes CKA_MODIFIABLE=false in a
// key template, and whether it enforces CKA_ALLOWED_MECHANISMS (a key
// allowed only AES-GCM must refuse AES-ECB), on throwaway session keys.
func (c *conn) probePolicy(s pkcs11.SessionHandle, caps *Capabilities) {
	gen := func(extra ...*pkcs11.Attribute) (pkcs11.ObjectHandle, error) {
		return c.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		}, extra...))
	}
	if k, err := gen(pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false)); err == nil {
		caps.Unmodifiable = true
		_ = c.mod.DestroyObject(s, k)
	}
	k, err := gen(allowedMechanisms(pkcs11.CKM_AES_GCM))
	if err != nil {
		return
	}
	defer func() { _ = c.mod.DestroyObject(s, k) }()
	if err := c.mod.EncryptInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, k); err == nil {
		_, _ = c.mod.Encrypt(s, make([]byte, 16)) // ends the operation
		return                                    // accepted, not enforced: worth nothing
	}
	caps.AllowedMechanisms = true
}

// ensureProtected checks what a token did with a key it just made, as some
// ignore the template (openCryptoki's C_UnwrapKey leaves an unwrapped key
// extractable and not sensitive): a key that is not sensitive, or is
// extractable, is made so (the one direction PKCS#11 always allows), and if
// the token will not, destroyed.
func (c *conn) ensureProtected(s pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
	read := func() (sensitive, extractable bool, err error) {
		attrs, err := c.mod.GetAttributeValue(s, key, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		})
		if err != nil {
			return false, false, err
		}
		return attrBool(attrs[0]), attrBool(attrs[1]), nil
	}
	sensitive, extractable, err := read()
	if err == nil && sensitive && !extractable {
		return nil
	}
	if err == nil {
		_ = c.mod.SetAttributeValue(s, key, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		})
		if sensitive, extractable, err = read(); err == nil && sensitive && !extractable {
			return nil
		}
	}
	_ = c.mod.DestroyObject(s, key)
	return newError(ErrUnsafeKey, err, "the token made a key that is extractable or not sensitive, and would not change it: destroyed")
}
