package hsm

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/miekg/pkcs11"
)

// SelfTestRow is one feature's result: the path the probe chose, whether a
// full round trip worked, and its median time beside the bare mechanism's.
type SelfTestRow struct {
	Feature string        `json:"feature"`
	Path    string        `json:"path"`
	OK      bool          `json:"ok"`
	Skipped bool          `json:"skipped,omitempty"` // disabled on this token: not a failure
	Error   string        `json:"error,omitempty"`
	Layer   time.Duration `json:"layer_ns,omitempty"`
	Raw     time.Duration `json:"raw_ns,omitempty"`
}

// selfTestLabel marks every object the self-test makes.
const selfTestLabel = "keyport-selftest"

// SelfTest runs, on a throwaway set of keys it destroys after, everything
// Keyport does with the token: key-pair generation per spec, decryption and
// import per algorithm (wrapping as a user does), sealing, MAC and random,
// each timed beside the bare PKCS#11 mechanism. Features the probe found
// unsupported are reported as skipped. It is what an operator runs on a new
// HSM before deploying: `keyport hsm selftest`.
func (h *HSM) SelfTest(ctx context.Context) ([]SelfTestRow, error) {
	var rows []SelfTestRow
	var made []KeyID
	defer func() {
		for _, id := range made {
			_ = h.Delete(context.WithoutCancel(ctx), id)
		}
	}()
	add := func(r SelfTestRow, err error) {
		r.OK = err == nil && !r.Skipped
		if err != nil {
			r.Error = err.Error()
		}
		rows = append(rows, r)
	}
	pairs := map[PairSpec]KeyPair{}
	for _, spec := range []PairSpec{RSA2048, SM2} {
		r := SelfTestRow{Feature: "generate " + spec.String(), Path: "token objects"}
		if h.caps.CopyToToken {
			r.Path = "session objects, copied to the token"
		}
		if spec == SM2 && !h.caps.SM2Keys {
			r.Skipped, r.Path = true, "unsupported"
			add(r, nil)
			continue
		}
		var err error
		r.Layer, err = timed(1, func() error {
			kp, err := h.GenerateKeyPair(ctx, spec, selfTestLabel, "")
			if err == nil {
				pairs[spec] = kp
				made = append(made, kp.ID)
			}
			return err
		})
		if err == nil {
			r.Raw, err = h.rawKeyGen(ctx, spec)
		}
		add(r, err)
	}
	for _, alg := range Algorithms() {
		path := h.caps.Decrypt[alg]
		kp, havePair := pairs[alg.Spec()]
		r := SelfTestRow{Feature: "decrypt and import " + alg.String(), Path: path.String()}
		if h.caps.Unwrap[alg] {
			r.Path += ", C_UnwrapKey in the token"
		}
		if path == PathNone || !havePair {
			r.Skipped = true
			add(r, nil)
			continue
		}
		add(r, h.selfTestAlgorithm(ctx, kp, alg, &r, &made))
	}
	seal, mac := SealKey{}, KeyID("")
	for _, k := range []struct {
		kind SecretKind
		id   *KeyID
	}{{AES256, &seal.Cipher}, {HMACSHA256, &mac}} {
		id, err := h.SecretKey(ctx, SecretKeyRequest{Label: fmt.Sprintf("%s-%d", selfTestLabel, k.kind), Kind: k.kind})
		if err != nil {
			add(SelfTestRow{Feature: "secret key generation"}, err)
			return rows, nil
		}
		*k.id = id
		made = append(made, id)
	}
	seal.MAC = mac
	r := SelfTestRow{Feature: "seal and open", Path: h.caps.Seal.String()}
	msg := []byte("thirty-two bytes of key material")
	var err error
	r.Layer, err = timed(5, func() error {
		out, err := h.Seal(ctx, seal, msg, []byte("aad"))
		if err == nil {
			var back []byte
			if back, err = h.Open(ctx, seal, out, []byte("aad")); err == nil && !bytes.Equal(back, msg) {
				err = errors.New("opened something else")
			}
		}
		return err
	})
	if err == nil {
		// The bare side: the scheme's cipher mechanism, encrypting and
		// decrypting once each (the encrypt-then-MAC schemes' HMACs are the
		// layer's own cost).
		r.Raw, err = h.rawTimed(ctx, seal.Cipher, func(c *conn, s pkcs11.SessionHandle, k pkcs11.ObjectHandle) error {
			iv := make([]byte, 16)
			for _, enc := range []bool{true, false} {
				var err error
				switch h.caps.Seal {
				case SealGCM:
					if enc {
						msg, err = c.gcm(s, k, true, iv[:gcmNonceSize], nil, msg)
					} else {
						msg, err = c.gcm(s, k, false, iv[:gcmNonceSize], nil, msg)
					}
				case SealCBCHMAC:
					msg, err = c.cbc(s, k, enc, iv, msg)
				default:
					msg, err = c.ctr(s, k, iv, msg)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	add(r, err)
	r = SelfTestRow{Feature: "HMAC-SHA256", Path: "CKM_SHA256_HMAC"}
	r.Layer, err = timed(5, func() error { _, err := h.MAC(ctx, mac, msg); return err })
	if err == nil {
		r.Raw, err = h.rawTimed(ctx, mac, func(c *conn, s pkcs11.SessionHandle, k pkcs11.ObjectHandle) error {
			if err := c.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, k); err != nil {
				return err
			}
			_, err := c.mod.Sign(s, msg)
			return err
		})
	}
	add(r, err)
	r = SelfTestRow{Feature: "random", Path: "C_GenerateRandom"}
	if !h.caps.Random {
		r.Path = "operating system (the token has no generator)"
	}
	add(r, nil)
	return rows, nil
}

// selfTestAlgorithm wraps fresh material to the pair as a user would, then
// decrypts it and imports it, checking the result and the check value.
func (h *HSM) selfTestAlgorithm(ctx context.Context, kp KeyPair, alg Algorithm, r *SelfTestRow, made *[]KeyID) error {
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	defer wipe(material)
	ct, err := wrapFor(kp, alg, material)
	if err != nil {
		return err
	}
	r.Layer, err = timed(5, func() error {
		got, err := h.Decrypt(ctx, kp.ID, alg, ct)
		if err == nil && !bytes.Equal(got, material) {
			err = errors.New("decrypted something else")
		}
		wipe(got)
		return err
	})
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	r.Raw, err = h.rawTimed(ctx, kp.ID, func(c *conn, s pkcs11.SessionHandle, k pkcs11.ObjectHandle) error {
		var out []byte
		var err error
		switch h.caps.Decrypt[alg] {
		case PathNative:
			out, err = c.decryptOnce(s, rsaMechanism(alg), k, ct)
		case PathRawRSA:
			out, err = c.rawRSA(s, k, ct)
		case PathECDH:
			p, perr := parseSM2Ciphertext(ct)
			if perr != nil {
				return perr
			}
			out, err = c.ecdhX(s, k, p.point())
		case PathVendor:
			p, perr := parseSM2Ciphertext(ct)
			if perr != nil {
				return perr
			}
			in, err := c.cfg.sm2.Input.encode(p)
			if err != nil {
				return err
			}
			out, err = c.decryptOnce(s, c.cfg.sm2.mechanism(), k, in)
		}
		wipe(out)
		return err
	})
	if err != nil {
		return fmt.Errorf("raw mechanism: %w", err)
	}
	imp, err := h.ImportAES(ctx, ImportRequest{WrappingKey: kp.ID, Algorithm: alg, Ciphertext: ct, Size: 32, Label: selfTestLabel})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	*made = append(*made, imp.ID)
	block, _ := aes.NewCipher(material)
	kcv := make([]byte, 16)
	block.Encrypt(kcv, kcv)
	if !bytes.Equal(imp.CheckValue, kcv) {
		return errors.New("import: the imported key's check value is not the material's")
	}
	return nil
}

// wrapFor encrypts material to a pair's public key as a cloud user does.
func wrapFor(kp KeyPair, alg Algorithm, material []byte) ([]byte, error) {
	if alg == SM2PKE {
		pub, err := parseSM2PublicKey(kp.PublicDER)
		if err != nil {
			return nil, err
		}
		return sm2.Encrypt(rand.Reader, pub, material, nil)
	}
	pub, err := parseRSAPublicKey(kp.PublicDER)
	if err != nil {
		return nil, err
	}
	return encryptRSA(pub, alg, material)
}

// timed runs fn n times and returns the median.
func timed(n int, fn func() error) (time.Duration, error) {
	var ds []time.Duration
	for range n {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// rawTimed times fn, the bare mechanism, on a session with key id's handle.
func (h *HSM) rawTimed(ctx context.Context, id KeyID, fn func(c *conn, s pkcs11.SessionHandle, key pkcs11.ObjectHandle) error) (time.Duration, error) {
	var d time.Duration
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.key(s, id)
		if err != nil {
			return err
		}
		d, err = timed(5, func() error { return fn(c, s, e.handle) })
		return err
	})
	if err != nil {
		return 0, err
	}
	return d, nil
}

// rawKeyGen times one bare C_GenerateKeyPair of session objects.
func (h *HSM) rawKeyGen(ctx context.Context, spec PairSpec) (time.Duration, error) {
	var d time.Duration
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		pub, priv := h.pairTemplates(spec, []byte(selfTestLabel), selfTestLabel)
		var err error
		d, err = timed(1, func() (err error) {
			var pubH, privH pkcs11.ObjectHandle
			lowPriority(func() {
				pubH, privH, err = c.mod.GenerateKeyPair(s, h.keyGenMechanism(spec), sessionCopy(pub), sessionCopy(priv))
			})
			if err == nil {
				_ = c.mod.DestroyObject(s, privH)
				_ = c.mod.DestroyObject(s, pubH)
			}
			return err
		})
		return err
	})
	if err != nil {
		return 0, err
	}
	return d, nil
}

func parseRSAPublicKey(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse RSA public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("parse RSA public key: not an RSA key")
	}
	return pub, nil
}
