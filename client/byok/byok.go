// Package byok does the user's side of bring-your-own-key, as the cloud
// guides show it: encrypt key material to a wrapping public key with
// crypto/rsa or gmsm. keyport import and bench, and tests at every level,
// use it.
package byok

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/keyport-kms/keyport/keywrap"
)

// Wrap encrypts material to publicDER (SubjectPublicKeyInfo) with the named
// algorithm: RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256,
// SM2PKE (C1C3C2, as gmsm writes by default), or RSA_AES_KEY_WRAP_SHA_1 /
// RSA_AES_KEY_WRAP_SHA_256 (a fresh AES-256 key under RSA-OAEP, then the
// material under it with AES key wrap with padding, RFC 5649, as AWS KMS's
// import guide builds it with openssl).
func Wrap(publicDER []byte, algorithm string, material []byte) ([]byte, error) {
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
	case "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256":
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
