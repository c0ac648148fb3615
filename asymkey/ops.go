package asymkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // RSAES_OAEP_SHA_1, a published algorithm of both clouds
	_ "crypto/sha256"
	"errors"
	"fmt"
	"hash"

	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"github.com/emmansun/gmsm/sm2"
)

// Signature schemes. Every one signs a digest the caller computed: SHA-256
// for RSA and ECDSA; for SM2, e = SM3(Z_A ‖ M) (SM2Digest).
type Scheme int

const (
	PSS    Scheme = iota + 1 // RSASSA-PSS over SHA-256, MGF1-SHA-256, 32-byte salt
	PKCS1                    // RSASSA-PKCS1-v1_5 over SHA-256
	ECDSA                    // ECDSA on P-256 or secp256k1; ASN.1 DER (r, s)
	SM2DSA                   // SM2 signature of e; ASN.1 DER (r, s)
)

// Fits reports whether a key of spec signs with the scheme.
func (s Scheme) Fits(spec Spec) bool {
	switch s {
	case PSS, PKCS1:
		return spec.RSABits() > 0
	case ECDSA:
		return spec == ECP256 || spec == ECP256K
	case SM2DSA:
		return spec == SM2
	}
	return false
}

var errScheme = errors.New("asymkey: the scheme does not fit the key")

// Sign signs digest.
func (k *PrivateKey) Sign(s Scheme, digest []byte) ([]byte, error) {
	if !s.Fits(k.spec) {
		return nil, errScheme
	}
	switch s {
	case PSS:
		return rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case PKCS1:
		return rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, digest)
	case SM2DSA:
		return sm2.SignASN1(rand.Reader, k.sm2, digest, nil) // nil opts: digest is e
	}
	if k.k1 != nil {
		return secpecdsa.Sign(k.k1, digest).Serialize(), nil
	}
	return ecdsa.SignASN1(rand.Reader, k.ec, digest)
}

// Verify reports whether sig is the scheme's signature of digest.
func (p *PublicKey) Verify(s Scheme, digest, sig []byte) bool {
	if !s.Fits(p.spec) {
		return false
	}
	switch s {
	case PSS:
		return rsa.VerifyPSS(p.rsa, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case PKCS1:
		return rsa.VerifyPKCS1v15(p.rsa, crypto.SHA256, digest, sig) == nil
	case SM2DSA:
		return sm2.VerifyASN1(p.ec, digest, sig)
	}
	if p.k1 != nil {
		parsed, err := secpecdsa.ParseDERSignature(sig)
		return err == nil && parsed.Verify(digest, p.k1)
	}
	return ecdsa.VerifyASN1(p.ec, digest, sig)
}

// SM2Digest is e = SM3(Z_A ‖ msg) with the default user id
// "1234567812345678" (GB/T 32918.2), the digest SM2DSA signs.
func (p *PublicKey) SM2Digest(msg []byte) ([]byte, error) {
	if p.spec != SM2 {
		return nil, errScheme
	}
	return sm2.CalculateSM2Hash(p.ec, msg, nil)
}

// Encryption schemes.
type Cipher int

const (
	OAEPSHA256 Cipher = iota + 1 // RSAES-OAEP, SHA-256 and MGF1-SHA-256
	OAEPSHA1                     // RSAES-OAEP, SHA-1 and MGF1-SHA-1
	PKCS1v15                     // RSAES-PKCS1-v1_5
	SM2PKE                       // SM2 encryption (GB/T 32918.4), ASN.1 C1C3C2
)

// Fits reports whether a key of spec decrypts with the cipher.
func (c Cipher) Fits(spec Spec) bool {
	if c == SM2PKE {
		return spec == SM2
	}
	return c >= OAEPSHA256 && c <= PKCS1v15 && spec.RSABits() > 0
}

func (c Cipher) hash() hash.Hash {
	switch c {
	case OAEPSHA256:
		return crypto.SHA256.New()
	case OAEPSHA1:
		return crypto.SHA1.New()
	}
	return nil
}

// MaxPlaintext is the longest message the cipher encrypts to a key of
// spec: k − 2·hLen − 2 bytes for OAEP, k − 11 for PKCS#1 v1.5, and 6,047
// for SM2PKE (Alibaba Cloud's documented limit).
func (c Cipher) MaxPlaintext(spec Spec) int {
	if c == SM2PKE {
		return 6047
	}
	k := spec.RSABits() / 8
	if h := c.hash(); h != nil {
		return k - 2*h.Size() - 2
	}
	return k - 11
}

// ErrDecryption is any ciphertext that does not decrypt, whatever the
// reason, so that the answer tells nothing of the padding.
var ErrDecryption = errors.New("asymkey: decryption error")

// Encrypt encrypts msg to the public half.
func (p *PublicKey) Encrypt(c Cipher, msg []byte) ([]byte, error) {
	if !c.Fits(p.spec) {
		return nil, errScheme
	}
	if len(msg) == 0 || len(msg) > c.MaxPlaintext(p.spec) {
		return nil, fmt.Errorf("asymkey: %d bytes is not 1 to %d", len(msg), c.MaxPlaintext(p.spec))
	}
	switch c {
	case SM2PKE:
		return sm2.EncryptASN1(rand.Reader, p.ec, msg)
	case PKCS1v15:
		return rsa.EncryptPKCS1v15(rand.Reader, p.rsa, msg)
	}
	return rsa.EncryptOAEP(c.hash(), rand.Reader, p.rsa, msg, nil)
}

// Decrypt decrypts ct; any failure the ciphertext causes is ErrDecryption.
// SM2PKE takes C1C3C2 as ASN.1 or as 04 ‖ x ‖ y ‖ C3 ‖ C2.
func (k *PrivateKey) Decrypt(c Cipher, ct []byte) ([]byte, error) {
	if !c.Fits(k.spec) {
		return nil, errScheme
	}
	var pt []byte
	var err error
	switch c {
	case SM2PKE:
		pt, err = sm2.Decrypt(k.sm2, ct)
	case PKCS1v15:
		pt, err = rsa.DecryptPKCS1v15(nil, k.rsa, ct) //nolint:staticcheck // Tencent Cloud's published algorithm
	default:
		pt, err = rsa.DecryptOAEP(c.hash(), nil, k.rsa, ct, nil)
	}
	if err != nil {
		return nil, ErrDecryption
	}
	return pt, nil
}
