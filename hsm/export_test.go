package hsm

import (
	"context"
	"hash"

	"github.com/miekg/pkcs11"
)

// Hooks for the external tests: raw access to the token beside the layer,
// and ways to break the connection for real.

// OAEPDecode exposes the OAEP decoder to fuzzing.
func OAEPDecode(h hash.Hash, em, label []byte) ([]byte, error) { return oaepDecode(h, em, label) }

// ParseSM2 exposes the SM2 ciphertext parser to fuzzing.
func ParseSM2(b []byte) error { _, err := parseSM2Ciphertext(b); return err }

// Raw runs fn with the layer's module context, a pooled session and the
// handle of key id (0 if id is empty). It bypasses the layer's retries and
// its SoftHSM object lock, so that benchmarks may call the layer from fn.
func Raw(ctx context.Context, h *HSM, id KeyID, fn func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, key pkcs11.ObjectHandle) error) error {
	c, err := h.acquire()
	if err != nil {
		return err
	}
	defer c.inflight.RUnlock()
	s, err := c.pool.get(ctx)
	if err != nil {
		return err
	}
	defer c.pool.put(s)
	var key pkcs11.ObjectHandle
	if id != "" {
		e, err := c.key(s, id)
		if err != nil {
			return err
		}
		key = e.handle
	}
	return fn(c.mod, s, key)
}

// FinalizeModule resets the library under the layer, as a crashed or
// restarted HSM client library would.
func FinalizeModule(h *HSM) error {
	h.mu.Lock()
	c := h.conn
	h.mu.Unlock()
	// Between calls: finalising under a running call crashes SoftHSM2, and
	// is outside the PKCS#11 contract anyway.
	c.inflight.Lock()
	defer c.inflight.Unlock()
	return c.mod.Finalize()
}

// CloseAllSessions closes every session of the application, crypto11's
// included, which also ends the login.
func CloseAllSessions(h *HSM) error {
	h.mu.Lock()
	c := h.conn
	h.mu.Unlock()
	return c.mod.CloseAllSessions(c.slot)
}

// LeftPad exposes the raw-RSA padding step.
func LeftPad(em []byte, k int) ([]byte, error) { return leftPad(em, k) }

// SetSealScheme makes h seal by scheme, as on a token that can do no better.
func SetSealScheme(h *HSM, scheme SealScheme) { h.caps.Seal = scheme }

// Required exposes the start-up check of what Keyport cannot run without.
func (c Capabilities) Required() error { return c.required() }

// Stall makes a call that sits in the library until release is closed, as
// a network HSM's client library does when its connection is gone; left
// reports when it came out.
func Stall(ctx context.Context, h *HSM, release <-chan struct{}, left chan<- struct{}) error {
	return h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		<-release
		close(left)
		return nil
	})
}

// WithoutKeyWrapPad makes h unwrap RFC 5649 in process, as on a token
// without the mechanism. Call it before h is shared.
func WithoutKeyWrapPad(h *HSM) { h.caps.KeyWrapPad = 0 }
