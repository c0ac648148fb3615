// Package byok does the user's side of bring-your-own-key, as the cloud
// guides show it: encrypt key material to a wrapping public key with
// crypto/rsa or gmsm. keyport import and bench, and tests at every level,
// use it.
package byok

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm4"
	"github.com/emmansun/gmsm/smx509"

	"github.com/keyport-kms/keyport/asymkey"
	"github.com/keyport-kms/keyport/keywrap"
)

// Wrap encrypts material to publicDER (SubjectPublicKeyInfo) with the named
// algorithm (for the two that carry private keys alone, material is PKCS#8
// DER: see WrapPrivateKey): RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256,
// SM2PKE (C1C3C2, as gmsm writes by default), or RSA_AES_KEY_WRAP_SHA_1 /
// RSA_AES_KEY_WRAP_SHA_256 (a fresh AES-256 key under RSA-OAEP, then the
// material under it with AES key wrap with padding, RFC 5649, as AWS KMS's
// import guide builds it with openssl).
func Wrap(publicDER []byte, algorithm string, material []byte) ([]byte, error) {
	switch algorithm {
	case "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", "SM2PKE_SM4_ECB": // material is a PKCS#8 private key
		return WrapPrivateKey(publicDER, algorithm, material)
	}
	if algorithm == "SM2PKE" {
		k, err := smx509.ParsePKIXPublicKey(publicDER)
		if err != nil {
			return nil, fmt.Errorf("parse SM2 public key: %w", err)
		}
		pub, ok := k.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("not an SM2 public key")
		}
		return sm2.Encrypt(rand.Reader, pub, material, nil)
	}
	k, err := x509.ParsePKIXPublicKey(publicDER)
	if err != nil {
		return nil, fmt.Errorf("parse RSA public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("not an RSA public key")
	}
	switch algorithm {
	case "RSAES_PKCS1_V1_5":
		return rsa.EncryptPKCS1v15(rand.Reader, pub, material)
	case "RSAES_OAEP_SHA_1":
		return rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, material, nil)
	case "RSAES_OAEP_SHA_256":
		return rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, nil)
	case "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256":
		kek := make([]byte, 32)
		if _, err := rand.Read(kek); err != nil {
			return nil, err
		}
		defer clear(kek)
		h := sha256.New()
		if algorithm == "RSA_AES_KEY_WRAP_SHA_1" {
			h = sha1.New()
		}
		head, err := rsa.EncryptOAEP(h, rand.Reader, pub, kek, nil)
		if err != nil {
			return nil, err
		}
		body, err := keywrap.Wrap(kek, material)
		if err != nil {
			return nil, err
		}
		return append(head, body...), nil
	}
	return nil, fmt.Errorf("unknown wrapping algorithm %q", algorithm)
}

// Specs lists the wrapping key specs an algorithm goes with, the first
// being the one to ask for by default; none for an unknown algorithm.
func Specs(algorithm string) []string {
	switch algorithm {
	case "SM2PKE":
		return []string{"EC_SM2"}
	case "RSAES_PKCS1_V1_5":
		return []string{"RSA_2048"}
	case "SM2PKE_SM4_ECB":
		return []string{"EC_SM2"}
	case "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD":
		return []string{"RSA_2048", "RSA_3072", "RSA_4096"}
	}
	return nil
}

// Spec is the wrapping key spec an algorithm asks for by default.
func Spec(algorithm string) string {
	if specs := Specs(algorithm); len(specs) > 0 {
		return specs[0]
	}
	return "RSA_2048"
}

// PrivateKeyAlgorithms are the algorithms that carry an asymmetric private
// key, with the wrapping key spec each asks for by default.
var PrivateKeyAlgorithms = map[string]string{
	"RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD": "RSA_2048",
	"SM2PKE_SM4_ECB":           "EC_SM2",
	"RSA_AES_KEY_WRAP_SHA_256": "RSA_2048",
	"RSA_AES_KEY_WRAP_SHA_1":   "RSA_2048",
}

// WrapPrivateKey wraps an asymmetric private key, given as PKCS#8 DER, as
// Alibaba Cloud's import guide and AWS's do: a fresh key encrypted to
// publicDER, then the private key under it —
// RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD: AES-256 key under RSA-OAEP
// (SHA-256), PKCS#8 under AES-256-ECB with PKCS#7 padding;
// SM2PKE_SM4_ECB: SM4 key under SM2 (C1C3C2), the SM2 key's 32-byte
// scalar under SM4-ECB; RSA_AES_KEY_WRAP_SHA_*: Wrap of the PKCS#8 DER.
func WrapPrivateKey(publicDER []byte, algorithm string, pkcs8 []byte) ([]byte, error) {
	switch algorithm {
	case "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256":
		return Wrap(publicDER, algorithm, pkcs8)
	case "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD":
		pad := aes.BlockSize - len(pkcs8)%aes.BlockSize
		padded := append(bytes.Clone(pkcs8), bytes.Repeat([]byte{byte(pad)}, pad)...)
		defer clear(padded)
		return envelope(publicDER, "RSAES_OAEP_SHA_256", 32, aes.NewCipher, padded)
	case "SM2PKE_SM4_ECB":
		k, err := asymkey.ParsePKCS8(pkcs8)
		if err != nil {
			return nil, err
		}
		defer k.Wipe()
		if k.Spec() != asymkey.SM2 {
			return nil, fmt.Errorf("SM2PKE_SM4_ECB carries SM2 keys, not %s", k.Spec())
		}
		scalar := k.Scalar()
		defer clear(scalar)
		return envelope(publicDER, "SM2PKE", 16, sm4.NewCipher, scalar)
	}
	return nil, fmt.Errorf("%q does not carry private keys; use one of RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD, SM2PKE_SM4_ECB, RSA_AES_KEY_WRAP_SHA_256, RSA_AES_KEY_WRAP_SHA_1", algorithm)
}

// envelope is Alibaba Cloud's: a fresh key of size bytes encrypted to
// publicDER with headAlg, then body under it in ECB mode.
func envelope(publicDER []byte, headAlg string, size int, newCipher func([]byte) (cipher.Block, error), body []byte) ([]byte, error) {
	kek := make([]byte, size)
	if _, err := rand.Read(kek); err != nil {
		return nil, err
	}
	defer clear(kek)
	head, err := Wrap(publicDER, headAlg, kek)
	if err != nil {
		return nil, err
	}
	tail, err := ecbEncrypt(newCipher, kek, body)
	if err != nil {
		return nil, err
	}
	return append(head, tail...), nil
}

// ecbEncrypt encrypts whole blocks in ECB mode.
func ecbEncrypt(newCipher func([]byte) (cipher.Block, error), key, pt []byte) ([]byte, error) {
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	n := block.BlockSize()
	if len(pt)%n != 0 {
		return nil, fmt.Errorf("ECB input of %d bytes is not whole blocks", len(pt))
	}
	out := make([]byte, len(pt))
	for i := 0; i < len(pt); i += n {
		block.Encrypt(out[i:i+n], pt[i:i+n])
	}
	return out, nil
}
