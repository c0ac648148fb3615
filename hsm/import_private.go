package hsm

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/asymkey"
)

// PrivateKeyRequest asks for an imported private key, which passed through
// this process, to become a token object: sensitive, never extractable
// from now on, under the same policy as a pair the token generated for
// the same use.
type PrivateKeyRequest struct {
	ID    KeyID // CKA_ID of the new object (NewKeyID); empty: a random one
	Label string
	Key   *asymkey.PrivateKey
	Sign  bool // a signing key; else a decryption key, the kind wrapping keys are
}

// pairSpecOf and signingSpecOf are the token's names of a key kind.
func pairSpecOf(k asymkey.Spec) (PairSpec, bool) {
	for p, d := range pairSpecs {
		if d.name == k.String() {
			return p, true
		}
	}
	return 0, false
}

func signingSpecOf(k asymkey.Spec) (SigningSpec, bool) {
	for s, kind := range signingSpecs {
		if kind == k {
			return s, true
		}
	}
	return 0, false
}

// ImportPrivateKey creates the private key object with C_CreateObject and
// wipes the attribute values it built; the caller wipes req.Key. A spec the
// token cannot use for the purpose is ErrUnsupported.
func (h *HSM) ImportPrivateKey(ctx context.Context, req PrivateKeyRequest) (KeyID, error) {
	raw, id, err := keyIDOr(req.ID)
	if err != nil {
		return "", err
	}
	spec := req.Key.Spec()
	var tmpl []*pkcs11.Attribute
	var keyType uint
	if req.Sign {
		ss, ok := signingSpecOf(spec)
		if !ok || !h.caps.SigningSpecs[ss] {
			return "", fmt.Errorf("%w: %s signing keys", ErrUnsupported, spec)
		}
		_, tmpl = h.signingTemplates(ss, raw, req.Label)
		keyType = signingKeyType(ss)
	} else {
		ps, ok := pairSpecOf(spec)
		if !ok || (ps == SM2 && !h.caps.SM2Keys) {
			return "", fmt.Errorf("%w: %s decryption keys", ErrUnsupported, spec)
		}
		_, tmpl = h.pairTemplates(ps, raw, req.Label)
		keyType = h.keyType(ps)
	}
	secret := privateValues(req.Key)
	defer func() {
		for _, a := range secret {
			clear(a.Value)
		}
	}()
	tmpl = append(tmpl, secret...)
	err = h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		handle, err := c.mod.CreateObject(s, tmpl)
		if err != nil {
			return fmt.Errorf("create %s private key object: %w", spec, err)
		}
		if err := c.ensureProtected(s, handle); err != nil {
			return err
		}
		c.keys.put(id, &keyEntry{handle: handle, class: pkcs11.CKO_PRIVATE_KEY, keyType: keyType})
		return nil
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// privateValues are the attributes that carry a private key's value: RSA's
// CRT parts, or an EC key's curve and scalar.
func privateValues(k *asymkey.PrivateKey) []*pkcs11.Attribute {
	if r := k.RSAKey(); r != nil {
		r.Precompute()
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, r.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, bigEndian(r.E)),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, r.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, r.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, r.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, r.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, r.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, r.Precomputed.Qinv.Bytes()),
		}
	}
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, mustMarshal(k.Spec().Curve())),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, k.Scalar()),
	}
}

// bigEndian is a public exponent's bytes.
func bigEndian(e int) []byte {
	var out []byte
	for ; e > 0; e >>= 8 {
		out = append([]byte{byte(e)}, out...)
	}
	return out
}
