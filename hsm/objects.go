package hsm

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

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
				return fmt.Errorf("read object: %w", err)
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
	return out, err
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

// IsWrappingKey tells a Keyport wrapping key by its label.
func (o Object) IsWrappingKey() bool { return strings.HasPrefix(o.Label, "keyport-wrap-") }
