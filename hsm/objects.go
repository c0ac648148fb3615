package hsm

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"
)

// Object describes a token object for operators, never its value.
type Object struct {
	ID               string `json:"id"`
	Label            string `json:"label"`
	Class            string `json:"class"`
	KeyType          string `json:"key_type"`
	Sensitive        *bool  `json:"sensitive,omitempty"`
	Extractable      *bool  `json:"extractable,omitempty"`
	NeverExtractable *bool  `json:"never_extractable,omitempty"`
	AlwaysSensitive  *bool  `json:"always_sensitive,omitempty"`
	PublicKey        []byte `json:"public_key,omitempty"` // SubjectPublicKeyInfo (DER) of RSA and SM2 public keys
}

// Objects lists every object the logged-in user can see. It searches the
// token and so belongs to the admin CLI, not to a request path.
func (h *HSM) Objects(ctx context.Context) ([]Object, error) {
	out := []Object{}
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		out = out[:0]
		handles, err := c.find(s, nil)
		if err != nil {
			return err
		}
		for _, o := range handles {
			attrs, err := c.mod.GetAttributeValue(s, o, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil),
				pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			})
			if err != nil {
				if classify(err) != failNone {
					return err
				}
				// One damaged object must not hide the others from an operator.
				out = append(out, Object{Class: "unreadable", Label: err.Error()})
				continue
			}
			class := attrUint(attrs[0])
			obj := Object{ID: hex.EncodeToString(attrs[1].Value), Label: string(attrs[2].Value), Class: className(class)}
			if class == pkcs11.CKO_PRIVATE_KEY || class == pkcs11.CKO_SECRET_KEY || class == pkcs11.CKO_PUBLIC_KEY {
				kt, err := c.mod.GetAttributeValue(s, o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil)})
				if err != nil {
					return fmt.Errorf("read key type: %w", err)
				}
				obj.KeyType = keyTypeName(attrUint(kt[0]))
			}
			if class == pkcs11.CKO_PUBLIC_KEY {
				obj.PublicKey = c.publicDER(s, o, obj.KeyType)
			}
			if class == pkcs11.CKO_PRIVATE_KEY || class == pkcs11.CKO_SECRET_KEY {
				flags, err := c.mod.GetAttributeValue(s, o, []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
				})
				if err != nil {
					return fmt.Errorf("read key flags: %w", err)
				}
				b := func(i int) *bool { v := attrBool(flags[i]); return &v }
				obj.Sensitive, obj.Extractable, obj.NeverExtractable, obj.AlwaysSensitive = b(0), b(1), b(2), b(3)
			}
			out = append(out, obj)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func className(c uint) string {
	switch c {
	case pkcs11.CKO_PRIVATE_KEY:
		return "private-key"
	case pkcs11.CKO_PUBLIC_KEY:
		return "public-key"
	case pkcs11.CKO_SECRET_KEY:
		return "secret-key"
	case pkcs11.CKO_CERTIFICATE:
		return "certificate"
	case pkcs11.CKO_DATA:
		return "data"
	}
	return fmt.Sprintf("class-0x%x", c)
}

func keyTypeName(t uint) string {
	switch t {
	case pkcs11.CKK_RSA:
		return "RSA"
	case pkcs11.CKK_EC:
		return "EC"
	case pkcs11.CKK_AES:
		return "AES"
	case pkcs11.CKK_GENERIC_SECRET:
		return "GENERIC_SECRET"
	}
	return fmt.Sprintf("0x%x", t)
}

// SetLabel gives every object whose CKA_ID is id a new label: it is how a
// deployment adopts the objects it made before labels named deployments.
func (h *HSM) SetLabel(ctx context.Context, id KeyID, label string) error {
	return h.eachWithID(ctx, id, func(c *conn, s pkcs11.SessionHandle, o pkcs11.ObjectHandle) error {
		if err := c.mod.SetAttributeValue(s, o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)}); err != nil {
			return fmt.Errorf("relabel %s: %w", id, err)
		}
		return nil
	})
}

// publicDER encodes a public key object as SubjectPublicKeyInfo, or nil for
// a kind this layer does not make.
func (c *conn) publicDER(s pkcs11.SessionHandle, o pkcs11.ObjectHandle, keyType string) []byte {
	switch keyType {
	case "RSA":
		pub, err := c.rsaPublic(s, o)
		if err != nil {
			return nil
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil
		}
		return der
	case "EC":
		der, err := c.sm2PublicDER(s, o)
		if err != nil {
			return nil // not an SM2 key
		}
		return der
	}
	return nil
}

// rsaPublic reads an RSA public key object.
func (c *conn) rsaPublic(s pkcs11.SessionHandle, o pkcs11.ObjectHandle) (*rsa.PublicKey, error) {
	attrs, err := c.mod.GetAttributeValue(s, o, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("read RSA public key: %w", err)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(attrs[0].Value), E: int(new(big.Int).SetBytes(attrs[1].Value).Int64())}, nil
}
