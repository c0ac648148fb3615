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
)

// Wrap encrypts material to publicDER (SubjectPublicKeyInfo) with the named
// algorithm: RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256 or
// SM2PKE (C1C3C2, as gmsm writes by default).
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
	}
	return nil, fmt.Errorf("unknown wrapping algorithm %q", algorithm)
}

// Spec is the wrapping key spec an algorithm takes.
func Spec(algorithm string) string {
	if algorithm == "SM2PKE" {
		return "EC_SM2"
	}
	return "RSA_2048"
}
