// Package keywrap is AES key wrap with padding (RFC 5649), the second half
// of the RSA-AES key wrap that AWS KMS, GCP Cloud KMS and OpenBao use to
// import key material (PKCS#11 CKM_RSA_AES_KEY_WRAP): material wrapped
// under an ephemeral AES key, which is itself encrypted to an RSA key.
//
// Go's standard library has no key wrap. Keyport unwraps in the token
// (CKM_AES_KEY_WRAP_PAD) where the material is to stay there; this package
// serves material that is sealed in process anyway, and the clients and
// tests that wrap.
package keywrap

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// aiv is RFC 5649's alternative initial value: A65959A6 ‖ 32-bit length.
const aivPrefix = 0xA65959A6

// ErrUnwrap is any wrapped key that does not unwrap, whatever the reason.
var ErrUnwrap = errors.New("keywrap: the wrapped key does not unwrap")

// Wrap wraps plaintext (1 byte or more) under kek (16, 24 or 32 bytes).
func Wrap(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(plaintext) == 0 || uint64(len(plaintext)) > 1<<32-1 {
		return nil, errors.New("keywrap: plaintext must be 1 to 2^32-1 bytes")
	}
	n := (len(plaintext) + 7) / 8 // 64-bit blocks, the last zero-padded
	r := make([]byte, 8*n)
	copy(r, plaintext)
	var a [8]byte
	binary.BigEndian.PutUint32(a[:4], aivPrefix)
	binary.BigEndian.PutUint32(a[4:], uint32(len(plaintext)))
	var b [16]byte
	if n == 1 { // one block: a single AES encryption of AIV ‖ P (§4.1)
		copy(b[:8], a[:])
		copy(b[8:], r)
		block.Encrypt(b[:], b[:])
		return b[:], nil
	}
	for j := 0; j < 6; j++ {
		for i := 0; i < n; i++ {
			copy(b[:8], a[:])
			copy(b[8:], r[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^t)
			copy(r[8*i:], b[8:])
		}
	}
	return append(a[:], r...), nil
}

// Unwrap reverses Wrap; any failure the wrapped bytes cause is ErrUnwrap.
// The caller clears the result once used: it is key material.
func Unwrap(kek, wrapped []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < 16 || len(wrapped)%8 != 0 {
		return nil, ErrUnwrap
	}
	n := len(wrapped)/8 - 1
	var a [8]byte
	r := make([]byte, 8*n)
	var b [16]byte
	if n == 1 {
		block.Decrypt(b[:], wrapped)
		copy(a[:], b[:8])
		copy(r, b[8:])
	} else {
		copy(a[:], wrapped[:8])
		copy(r, wrapped[8:])
		for j := 5; j >= 0; j-- {
			for i := n - 1; i >= 0; i-- {
				t := uint64(n*j + i + 1)
				binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
				copy(b[8:], r[8*i:8*i+8])
				block.Decrypt(b[:], b[:])
				copy(a[:], b[:8])
				copy(r[8*i:], b[8:])
			}
		}
	}
	clear(b[:])
	// The check on A: the prefix, a length within the last block, and zero
	// padding, each without an early exit on the secret bytes.
	length := int(binary.BigEndian.Uint32(a[4:]))
	var prefix [4]byte
	binary.BigEndian.PutUint32(prefix[:], aivPrefix)
	ok := subtle.ConstantTimeCompare(a[:4], prefix[:])
	ok &= subtle.ConstantTimeLessOrEq(8*(n-1)+1, length) & subtle.ConstantTimeLessOrEq(length, 8*n)
	if ok != 1 {
		clear(r)
		return nil, ErrUnwrap
	}
	var pad byte
	for _, p := range r[length:] {
		pad |= p
	}
	if pad != 0 {
		clear(r)
		return nil, ErrUnwrap
	}
	return r[:length], nil
}
