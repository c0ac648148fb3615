package hsm

import (
	"context"
	"crypto/elliptic"
	"crypto/subtle"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/asymkey"
)

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSM2Curve    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	// sm2ECParams is CKA_EC_PARAMS for the SM2 curve: DER of its OID.
	sm2ECParams = mustMarshal(oidSM2Curve)
)

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// sm2PublicDER reads an SM2 public key as a SubjectPublicKeyInfo with
// id-ecPublicKey and the SM2 curve OID, which gmsm's smx509 and OpenSSL 3
// parse as an SM2 key.
func (c *conn) sm2PublicDER(s pkcs11.SessionHandle, pub pkcs11.ObjectHandle) ([]byte, error) {
	return c.ecPublicDER(s, asymkey.SM2, pub)
}

// decryptSM2 decrypts SM2PKE. By default the token computes the ECDH shared
// point's x coordinate d·C1 (CKM_ECDH1_DERIVE, CKD_NULL), so the private
// scalar never leaves it; y2 follows from the curve equation (the C3 check
// tells the two roots apart), and the SM3 KDF and check run here.
func (h *HSM) decryptSM2(ctx context.Context, id KeyID, ct []byte) ([]byte, error) {
	parsed, err := parseSM2Ciphertext(ct)
	if err != nil {
		return nil, ErrBadCiphertext
	}
	var out []byte
	err = h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.key(s, id)
		if err != nil {
			return err
		}
		if e.keyType != c.cfg.sm2.KeyType {
			return fmt.Errorf("%w: key %s is not an SM2 key", ErrUnsupported, id)
		}
		if c.cfg.sm2.vendor() {
			in, err := c.cfg.sm2.Input.encode(parsed)
			if err != nil {
				return err
			}
			out, err = c.decryptOnce(s, c.cfg.sm2.mechanism(), e.handle, in)
			return err
		}
		x2, err := c.ecdhX(s, e.handle, parsed.point())
		if err != nil {
			return err
		}
		defer wipe(x2)
		out, err = sm2Finish(x2, parsed)
		return err
	})
	if err = decryptError(err); err != nil {
		return nil, err
	}
	return out, nil
}

// ecdhX returns the x coordinate of d·P for the private key d in the token.
func (c *conn) ecdhX(s pkcs11.SessionHandle, priv pkcs11.ObjectHandle, point []byte) ([]byte, error) {
	params := pkcs11.NewECDH1DeriveParams(pkcs11.CKD_NULL, nil, point)
	derived, err := c.mod.DeriveKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDH1_DERIVE, params)}, priv,
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, sm2FieldBytes),
		})
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.mod.DestroyObject(s, derived) }()
	attrs, err := c.mod.GetAttributeValue(s, derived, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
	if err != nil {
		return nil, err
	}
	v := attrs[0].Value
	if len(v) > sm2FieldBytes {
		return nil, errSM2Ciphertext
	}
	x := make([]byte, sm2FieldBytes)
	copy(x[sm2FieldBytes-len(v):], v)
	wipe(v)
	return x, nil
}

// sm2Finish completes SM2 decryption from x2 (GB/T 32918.4 §7.1 B4–B6):
// t = KDF(x2||y2, len(C2)), M = C2 xor t, and C3 must equal SM3(x2||M||y2).
func sm2Finish(x2 []byte, ct *sm2Ciphertext) ([]byte, error) {
	// y2 is one of the two roots of the curve equation at x2; gmsm's fast
	// field code finds the even one (02 || x2, SEC 1 decompression).
	_, y := elliptic.UnmarshalCompressed(sm2.P256(), append([]byte{2}, x2...))
	if y == nil {
		return nil, errSM2Ciphertext
	}
	p := sm2.P256().Params().P
	z := make([]byte, 2*sm2FieldBytes)
	defer wipe(z)
	copy(z, x2)
	for _, cand := range []*big.Int{y, new(big.Int).Sub(p, y)} {
		cand.FillBytes(z[sm2FieldBytes:])
		t := sm3.Kdf(z, len(ct.c2))
		if allZero(t) {
			return nil, errSM2Ciphertext
		}
		m := make([]byte, len(ct.c2))
		subtle.XORBytes(m, ct.c2, t)
		wipe(t)
		d := sm3.New()
		d.Write(x2)
		d.Write(m)
		d.Write(z[sm2FieldBytes:])
		if subtle.ConstantTimeCompare(d.Sum(nil), ct.c3) == 1 {
			return m, nil
		}
		wipe(m)
	}
	return nil, errSM2Ciphertext
}

func allZero(b []byte) bool {
	var acc byte
	for _, v := range b {
		acc |= v
	}
	return acc == 0
}
