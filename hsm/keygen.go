package hsm

import (
	"context"
	"crypto/x509"
	"fmt"

	"github.com/miekg/pkcs11"
)

// GenerateKeyPair makes a wrapping key pair inside the token, both halves
// labelled label. The private half is sensitive, never extractable and
// usable only by the mechanisms the probe chose for its algorithms.
//
// Where the token's object writes must run alone (SoftHSM2), generating a
// pair as token objects would hold every other call back for the whole
// generation (100–200 ms of prime search). There the pair is generated as
// session objects, which touch no object file and need no lock, and only
// the copies to the token (C_CopyObject, about a millisecond each) run
// alone: no call waits behind a key generation. The copies keep
// CKA_LOCAL, CKA_NEVER_EXTRACTABLE and CKA_ALWAYS_SENSITIVE, which the
// probe checks before it chooses this path. A generation nobody waits for
// (ctx marked with Background) runs at the lowest CPU priority, so that on
// a software token it does not take the CPU decryptions need.
func (h *HSM) GenerateKeyPair(ctx context.Context, spec PairSpec, label string, want KeyID) (KeyPair, error) {
	if label == "" {
		return KeyPair{}, fmt.Errorf("generate key pair: empty label")
	}
	if _, ok := pairSpecs[spec]; !ok {
		return KeyPair{}, fmt.Errorf("%w: key spec %s", ErrUnsupported, spec)
	}
	raw, id, err := keyIDOr(want)
	if err != nil {
		return KeyPair{}, err
	}
	pub, priv := h.pairTemplates(spec, raw, label)
	der, err := h.generatePair(ctx, pairRequest{
		name: spec.String(), id: id, mech: h.keyGenMechanism(spec), pub: pub, priv: priv, keyType: h.keyType(spec),
		publicDER: func(c *conn, s pkcs11.SessionHandle, o pkcs11.ObjectHandle) ([]byte, error) {
			return c.publicKeyDER(s, spec, o)
		},
	})
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{ID: id, Spec: spec, PublicDER: der}, nil
}

// pairRequest is a key pair to generate: its templates, and how to read
// its public half.
type pairRequest struct {
	name      string // the spec, for errors
	id        KeyID
	mech      []*pkcs11.Mechanism
	pub, priv []*pkcs11.Attribute
	keyType   uint
	publicDER func(c *conn, s pkcs11.SessionHandle, pub pkcs11.ObjectHandle) ([]byte, error)
}

// generatePair generates a pair as GenerateKeyPair says, wrapping and
// signing pairs alike, and returns its public half.
func (h *HSM) generatePair(ctx context.Context, r pairRequest) ([]byte, error) {
	var der []byte
	if !h.caps.CopyToToken {
		err := h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
			pubH, privH, err := c.mod.GenerateKeyPair(s, r.mech, r.pub, r.priv)
			if err != nil {
				return fmt.Errorf("generate %s key pair: %w", r.name, err)
			}
			if err := c.ensureProtected(s, privH); err != nil {
				_ = c.mod.DestroyObject(s, pubH)
				return err
			}
			if der, err = r.publicDER(c, s, pubH); err != nil {
				_ = c.mod.DestroyObject(s, privH)
				_ = c.mod.DestroyObject(s, pubH)
				return err
			}
			c.keys.put(r.id, &keyEntry{handle: privH, class: pkcs11.CKO_PRIVATE_KEY, keyType: r.keyType})
			return nil
		})
		return der, err
	}
	err := h.doUnlocked(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		var pubH, privH pkcs11.ObjectHandle
		var err error
		gen := func() { // no lock held: session objects only
			pubH, privH, err = c.mod.GenerateKeyPair(s, r.mech, sessionCopy(r.pub), sessionCopy(r.priv))
		}
		if isBackground(ctx) {
			lowPriority(gen)
		} else {
			gen()
		}
		if err != nil {
			return fmt.Errorf("generate %s key pair: %w", r.name, err)
		}
		defer func() { _ = c.mod.DestroyObject(s, privH); _ = c.mod.DestroyObject(s, pubH) }()
		if der, err = r.publicDER(c, s, pubH); err != nil {
			return err
		}
		// Each copy runs alone, one at a time: a call never waits for more
		// than one object write.
		var tokPub, tokPriv pkcs11.ObjectHandle
		if err := c.writing(s, func() (err error) {
			tokPub, err = c.mod.CopyObject(s, pubH, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)})
			return err
		}); err != nil {
			return fmt.Errorf("copy %s public key to the token: %w", r.name, err)
		}
		if err := c.writing(s, func() (err error) {
			tokPriv, err = c.mod.CopyObject(s, privH, append([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)}, h.caps.unmodifiable()...))
			return err
		}); err != nil {
			_ = c.writing(s, func() error { return c.mod.DestroyObject(s, tokPub) })
			return fmt.Errorf("copy %s private key to the token: %w", r.name, err)
		}
		c.keys.put(r.id, &keyEntry{handle: tokPriv, class: pkcs11.CKO_PRIVATE_KEY, keyType: r.keyType})
		return nil
	})
	return der, err
}

// pairTemplates are the public and private templates of a wrapping pair:
// token objects with the pair's id and label, the public half usable for
// nothing inside the token, the private half under the probe's policy.
func (h *HSM) pairTemplates(spec PairSpec, rawID []byte, label string) (pub, priv []*pkcs11.Attribute) {
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, h.keyType(spec)),
			pkcs11.NewAttribute(pkcs11.CKA_ID, rawID),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}
	}
	pub = append(common(pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true))
	pub = append(pub, publicKeyUsage...)
	if spec.RSA() {
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, pairSpecs[spec].bits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	} else {
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, sm2ECParams))
	}
	priv = append(common(pkcs11.CKO_PRIVATE_KEY), h.caps.privateKeyPolicy(spec, h.cfg.sm2)...)
	return pub, priv
}

// sessionCopy turns a token template into one for a session object, to be
// copied to the token afterwards; CKA_MODIFIABLE=false is set on the copy,
// as a session object that cannot be modified may not be copyable.
func sessionCopy(tmpl []*pkcs11.Attribute) []*pkcs11.Attribute {
	out := make([]*pkcs11.Attribute, 0, len(tmpl))
	for _, a := range tmpl {
		switch a.Type {
		case pkcs11.CKA_TOKEN:
			out = append(out, pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false))
		case pkcs11.CKA_MODIFIABLE:
		default:
			out = append(out, a)
		}
	}
	return out
}

func (h *HSM) keyGenMechanism(spec PairSpec) []*pkcs11.Mechanism {
	if spec == SM2 {
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(h.cfg.sm2.KeyGen, nil)}
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}
}

func (h *HSM) keyType(spec PairSpec) uint {
	if spec == SM2 {
		return h.cfg.sm2.KeyType
	}
	return pkcs11.CKK_RSA
}

// publicKeyDER reads a public key object as a SubjectPublicKeyInfo.
func (c *conn) publicKeyDER(s pkcs11.SessionHandle, spec PairSpec, pub pkcs11.ObjectHandle) ([]byte, error) {
	if spec == SM2 {
		return c.sm2PublicDER(s, pub)
	}
	k, err := c.rsaPublic(s, pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode RSA public key: %w", err)
	}
	return der, nil
}

type backgroundKey struct{}

// Background marks ctx as work nobody waits for, such as refilling a pool
// of key pairs: on a software token its key generation yields the CPU to
// everything else.
func Background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

func isBackground(ctx context.Context) bool {
	b, _ := ctx.Value(backgroundKey{}).(bool)
	return b
}
