package hsm

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"
)

// Decrypt decrypts ciphertext with wrapping key id.
func (h *HSM) Decrypt(ctx context.Context, id KeyID, alg Algorithm, ciphertext []byte) ([]byte, error) {
	switch alg {
	case RSAPKCS1v15, RSAOAEPSHA1, RSAOAEPSHA256:
		return h.decryptRSA(ctx, id, alg, ciphertext)
	case SM2PKE:
		if h.caps.Decrypt[SM2PKE] == PathNone {
			return nil, fmt.Errorf("%w: SM2PKE", ErrUnsupported)
		}
		return h.decryptSM2(ctx, id, ciphertext)
	}
	return nil, fmt.Errorf("%w: algorithm %s", ErrUnsupported, alg)
}

// Delete destroys every object whose CKA_ID is id (both halves of a pair).
func (h *HSM) Delete(ctx context.Context, id KeyID) error {
	return h.eachWithID(ctx, id, func(c *conn, s pkcs11.SessionHandle, o pkcs11.ObjectHandle) error {
		c.keys.drop(id)
		if err := c.mod.DestroyObject(s, o); err != nil {
			return fmt.Errorf("destroy key %s: %w", id, err)
		}
		return nil
	})
}

// eachWithID runs fn, alone on a token whose writes must be, on every
// object whose CKA_ID is id; none is ErrNotFound.
func (h *HSM) eachWithID(ctx context.Context, id KeyID, fn func(c *conn, s pkcs11.SessionHandle, o pkcs11.ObjectHandle) error) error {
	raw, err := id.bytes()
	if err != nil {
		return err
	}
	return h.doWrite(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		handles, err := c.find(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, raw)})
		if err != nil {
			return err
		}
		if len(handles) == 0 {
			return fmt.Errorf("%w: key %s", ErrNotFound, id)
		}
		for _, o := range handles {
			if err := fn(c, s, o); err != nil {
				return err
			}
		}
		return nil
	})
}

// Random returns n bytes from the token's generator.
func (h *HSM) Random(ctx context.Context, n int) ([]byte, error) {
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		var err error
		out, err = c.mod.GenerateRandom(s, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
