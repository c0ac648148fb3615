package hsm

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/miekg/pkcs11"
)

// SealKey names the token keys a seal uses: Cipher, an AES key, and MAC,
// an HMAC-SHA256 key that the schemes for tokens without AES-GCM use to
// authenticate (encrypt-then-MAC).
type SealKey struct {
	Cipher KeyID
	MAC    KeyID
}

// SealScheme is how Seal protects data on this token, chosen by the probe:
// the first the token can do of
type SealScheme int

const (
	SealNone    SealScheme = iota // the token cannot seal: Keyport does not start
	SealGCM                       // CKM_AES_GCM in the token
	SealCBCHMAC                   // CKM_AES_CBC_PAD in the token, then HMAC-SHA256 in the token
	SealCTRHMAC                   // AES-CTR from CKM_AES_ECB blocks in the token, XOR here, then HMAC-SHA256 in the token
)

func (s SealScheme) String() string {
	return [...]string{"none", "aes-gcm", "aes-cbc-pad+hmac-sha256", "aes-ctr(ecb)+hmac-sha256"}[s]
}

// Sealed formats. AES-GCM keeps the layout it always had, nonce (12) ‖
// ciphertext ‖ tag (16), so what was sealed before still opens. The
// encrypt-then-MAC schemes start with "KP" and the scheme's byte:
//
//	"KP" ‖ scheme (1) ‖ iv or nonce (16) ‖ ciphertext ‖ HMAC-SHA256 (32)
//
// where the HMAC, computed in the token under the MAC key, covers
// "keyport/seal/v1\x00" ‖ scheme ‖ len(aad) (8, big-endian) ‖ aad ‖ iv ‖
// ciphertext, and is checked before anything is decrypted.
const (
	gcmNonceSize = 12
	gcmTagBits   = 128
	etmIVSize    = 16
	etmMACSize   = 32
	etmHeader    = 3
)

var etmMagic = [2]byte{'K', 'P'}

// Seal encrypts plaintext under key in the token, by the scheme the probe
// chose, and authenticates it with aad.
func (h *HSM) Seal(ctx context.Context, key SealKey, plaintext, aad []byte) ([]byte, error) {
	scheme := h.caps.Seal
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.secret(s, key.Cipher, pkcs11.CKK_AES)
		if err != nil {
			return err
		}
		switch scheme {
		case SealGCM:
			nonce, err := c.random(s, gcmNonceSize, h.caps.Random)
			if err != nil {
				return err
			}
			ct, err := c.gcm(s, e.handle, true, nonce, aad, plaintext)
			if err != nil {
				return fmt.Errorf("seal: %w", err)
			}
			out = append(nonce, ct...)
			return nil
		case SealCBCHMAC, SealCTRHMAC:
			iv, err := c.random(s, etmIVSize, h.caps.Random)
			if err != nil {
				return err
			}
			var ct []byte
			if scheme == SealCBCHMAC {
				ct, err = c.cbc(s, e.handle, true, iv, plaintext)
			} else {
				ct, err = c.ctr(s, e.handle, iv, plaintext)
			}
			if err != nil {
				return fmt.Errorf("seal: %w", err)
			}
			body := append(append([]byte{etmMagic[0], etmMagic[1], byte(scheme)}, iv...), ct...)
			mac, err := c.hmac(s, key.MAC, etmAuthData(scheme, aad, body[etmHeader:]))
			if err != nil {
				return fmt.Errorf("seal: %w", err)
			}
			out = append(body, mac...)
			return nil
		}
		return fmt.Errorf("%w: this token cannot seal", ErrUnsupported)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Open reverses Seal, whatever scheme sealed it on this token (what was
// sealed before the token's scheme was chosen is AES-GCM). Any failure
// caused by the sealed bytes is ErrBadCiphertext.
func (h *HSM) Open(ctx context.Context, key SealKey, sealed, aad []byte) ([]byte, error) {
	var out []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.secret(s, key.Cipher, pkcs11.CKK_AES)
		if err != nil {
			return err
		}
		if scheme, ok := etmScheme(sealed); ok {
			if out, err = c.openETM(s, e.handle, key.MAC, scheme, sealed, aad); err == nil || h.caps.Seal != SealGCM {
				return err
			}
			// A GCM nonce that happens to start with the header: try GCM.
		}
		if len(sealed) < gcmNonceSize+gcmTagBits/8 {
			return ErrBadCiphertext
		}
		out, err = c.gcm(s, e.handle, false, sealed[:gcmNonceSize], aad, sealed[gcmNonceSize:])
		return err
	})
	if err = decryptError(err); err != nil {
		return nil, err
	}
	return out, nil
}

func etmScheme(sealed []byte) (SealScheme, bool) {
	if len(sealed) < etmHeader+etmIVSize+etmMACSize || sealed[0] != etmMagic[0] || sealed[1] != etmMagic[1] {
		return SealNone, false
	}
	scheme := SealScheme(sealed[2])
	return scheme, scheme == SealCBCHMAC || scheme == SealCTRHMAC
}

func etmAuthData(scheme SealScheme, aad, ivAndCT []byte) []byte {
	d := append([]byte("keyport/seal/v1\x00"), byte(scheme))
	d = binary.BigEndian.AppendUint64(d, uint64(len(aad)))
	return append(append(d, aad...), ivAndCT...)
}

// openETM checks the HMAC (in constant time, before decrypting) and decrypts.
func (c *conn) openETM(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, macKey KeyID, scheme SealScheme, sealed, aad []byte) ([]byte, error) {
	body, mac := sealed[etmHeader:len(sealed)-etmMACSize], sealed[len(sealed)-etmMACSize:]
	want, err := c.hmac(s, macKey, etmAuthData(scheme, aad, body))
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(want, mac) != 1 {
		return nil, ErrBadCiphertext
	}
	iv, ct := body[:etmIVSize], body[etmIVSize:]
	if scheme == SealCBCHMAC {
		return c.cbc(s, key, false, iv, ct)
	}
	return c.ctr(s, key, iv, ct)
}

func (c *conn) gcm(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, encrypt bool, nonce, aad, data []byte) ([]byte, error) {
	params := pkcs11.NewGCMParams(nonce, aad, gcmTagBits)
	defer params.Free()
	return c.crypt(s, key, encrypt, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, data)
}

func (c *conn) cbc(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, encrypt bool, iv, data []byte) ([]byte, error) {
	return c.crypt(s, key, encrypt, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_CBC_PAD, iv)}, data)
}

// ctr is AES-CTR with the 16-byte initial counter block iv: the key stream
// is AES-ECB of the counter blocks, computed in the token in one call, and
// XORed here. Encryption and decryption are the same.
func (c *conn) ctr(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, iv, data []byte) ([]byte, error) {
	blocks := (len(data) + 15) / 16
	counters := make([]byte, 16*blocks)
	hi, lo := binary.BigEndian.Uint64(iv[:8]), binary.BigEndian.Uint64(iv[8:])
	for i := range blocks {
		n := lo + uint64(i)
		carry := uint64(0)
		if n < lo {
			carry = 1
		}
		binary.BigEndian.PutUint64(counters[16*i:], hi+carry)
		binary.BigEndian.PutUint64(counters[16*i+8:], n)
	}
	if blocks == 0 {
		return []byte{}, nil
	}
	stream, err := c.crypt(s, key, true, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_ECB, nil)}, counters)
	if err != nil {
		return nil, err
	}
	defer wipe(stream)
	out := make([]byte, len(data))
	subtle.XORBytes(out, data, stream)
	return out, nil
}

func (c *conn) crypt(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, encrypt bool, mech []*pkcs11.Mechanism, data []byte) ([]byte, error) {
	if encrypt {
		if err := c.mod.EncryptInit(s, mech, key); err != nil {
			return nil, err
		}
		return c.mod.Encrypt(s, data)
	}
	return c.decryptOnce(s, mech, key, data)
}

// random is n bytes from the token's generator, or from the operating
// system's where the token has none (the probe says which).
func (c *conn) random(s pkcs11.SessionHandle, n int, tokenRNG bool) ([]byte, error) {
	if !tokenRNG {
		b := make([]byte, n)
		_, err := rand.Read(b)
		return b, err
	}
	b, err := c.mod.GenerateRandom(s, n)
	if err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}
