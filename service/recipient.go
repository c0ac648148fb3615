package service

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Recipient asks that the plaintext a call returns (Decrypt's plaintext, a
// data key) be encrypted to the caller's public key instead of returned in
// the clear, as Tencent Cloud KMS's EncryptionPublicKey does: only the
// holder of the matching private key reads it, whatever sits between.
type Recipient struct {
	// PublicKey is a SubjectPublicKeyInfo of an RSA-2048 or SM2 key, in
	// PEM ("-----BEGIN PUBLIC KEY-----") or as bare base64 DER.
	PublicKey string
	// Algorithm is one of RecipientAlgorithms; empty means SM2.
	Algorithm string
}

// RecipientAlgorithms are the algorithms a Recipient may name, as Tencent
// Cloud documents them: SM2 (C1C3C2, 04‖x‖y‖C3‖C2), SM2_C1C3C2_ASN1 (the
// GM/T 0009 ASN.1 form), and the RSA encryption schemes.
var RecipientAlgorithms = []string{"SM2", "SM2_C1C3C2_ASN1", "RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}

// maxRecipientKey bounds the PEM text read: an RSA-2048 key is about 450
// characters.
const maxRecipientKey = 4096

// sealer returns what encrypts a plaintext to the recipient, checking the
// key and algorithm first so that a bad one fails before any work; nil
// when no recipient was asked for.
func (r *Recipient) sealer() (func([]byte) ([]byte, error), error) {
	if r == nil || r.PublicKey == "" {
		if r != nil && r.Algorithm != "" {
			return nil, errorf(KindInvalidRecipientKey, "EncryptionAlgorithm needs EncryptionPublicKey")
		}
		return nil, nil
	}
	alg := r.Algorithm
	if alg == "" {
		alg = "SM2"
	}
	known := false
	for _, a := range RecipientAlgorithms {
		known = known || a == alg
	}
	if !known {
		return nil, errorf(KindInvalidRecipientKey, "EncryptionAlgorithm %q is not one of %s", alg, strings.Join(RecipientAlgorithms, ", "))
	}
	pub, err := parseRecipientKey(r.PublicKey)
	if err != nil {
		return nil, err
	}
	bad := errorf(KindInvalidRecipientKey, "EncryptionPublicKey is not a key for %s", alg)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != sm2.P256() || !strings.HasPrefix(alg, "SM2") {
			return nil, bad
		}
		opts := sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2)
		if alg == "SM2_C1C3C2_ASN1" {
			opts = sm2.ASN1EncrypterOpts
		}
		return func(m []byte) ([]byte, error) { return sm2.Encrypt(rand.Reader, k, m, opts) }, nil
	case *rsa.PublicKey:
		if k.N.BitLen() != 2048 {
			return nil, errorf(KindInvalidRecipientKey, "EncryptionPublicKey is an RSA key of %d bits; RSA keys must have 2048", k.N.BitLen())
		}
		switch alg {
		case "RSAES_PKCS1_V1_5":
			return func(m []byte) ([]byte, error) { return rsa.EncryptPKCS1v15(rand.Reader, k, m) }, nil
		case "RSAES_OAEP_SHA_1":
			return func(m []byte) ([]byte, error) { return rsa.EncryptOAEP(sha1.New(), rand.Reader, k, m, nil) }, nil
		case "RSAES_OAEP_SHA_256":
			return func(m []byte) ([]byte, error) { return rsa.EncryptOAEP(sha256.New(), rand.Reader, k, m, nil) }, nil
		}
	}
	return nil, bad
}

// parseRecipientKey reads a PEM or bare base64 SubjectPublicKeyInfo.
func parseRecipientKey(text string) (any, error) {
	if len(text) > maxRecipientKey {
		return nil, errorf(KindInvalidRecipientKey, "EncryptionPublicKey is longer than %d characters", maxRecipientKey)
	}
	var der []byte
	if block, _ := pem.Decode([]byte(text)); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, errorf(KindInvalidRecipientKey, "EncryptionPublicKey is a PEM %q block, not a PUBLIC KEY", block.Type)
		}
		der = block.Bytes
	} else {
		var err error
		if der, err = base64.StdEncoding.DecodeString(strings.TrimSpace(text)); err != nil {
			return nil, errorf(KindInvalidRecipientKey, "EncryptionPublicKey is neither PEM nor base64")
		}
	}
	pub, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errorf(KindInvalidRecipientKey, "EncryptionPublicKey is not a public key this service can use")
	}
	return pub, nil
}

// sealFor encrypts plaintext to the recipient when there is one, wiping
// the plaintext; with none it returns plaintext as it is.
func sealFor(seal func([]byte) ([]byte, error), plaintext []byte) ([]byte, error) {
	if seal == nil {
		return plaintext, nil
	}
	defer clear(plaintext)
	out, err := seal(plaintext)
	if err != nil {
		return nil, errorf(KindInvalidRecipientKey, "the plaintext does not fit EncryptionPublicKey with this EncryptionAlgorithm")
	}
	return out, nil
}
