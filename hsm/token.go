package hsm

import (
	"context"
	"fmt"
)

// KeyID names a token object pair or secret key without exposing handles: the
// hex form of its CKA_ID.
type KeyID string

// PairSpec is the kind of wrapping key pair (the service's KeySpec is a KMS key's).
type PairSpec int

const (
	RSA2048 PairSpec = iota + 1
	SM2
	RSA3072
	RSA4096
)

// pairSpecs names each pair spec and gives an RSA pair's modulus size.
var pairSpecs = map[PairSpec]struct {
	name string
	bits int // 0: not RSA
}{
	RSA2048: {"RSA_2048", 2048}, RSA3072: {"RSA_3072", 3072}, RSA4096: {"RSA_4096", 4096}, SM2: {"EC_SM2", 0},
}

func (s PairSpec) String() string {
	if p, ok := pairSpecs[s]; ok {
		return p.name
	}
	return fmt.Sprintf("PairSpec(%d)", int(s))
}

// RSA reports whether the pair is an RSA pair.
func (s PairSpec) RSA() bool { return pairSpecs[s].bits > 0 }

// RSABits is an RSA pair's modulus size; 0 for SM2.
func (s PairSpec) RSABits() int { return pairSpecs[s].bits }

// Algorithm is how key material was encrypted to a wrapping public key.
type Algorithm int

const (
	RSAPKCS1v15 Algorithm = iota + 1
	RSAOAEPSHA1
	RSAOAEPSHA256
	SM2PKE
	algorithmEnd
)

// Algorithms lists every algorithm, for tests and start-up logs.
func Algorithms() []Algorithm {
	out := make([]Algorithm, 0, algorithmEnd-1)
	for a := Algorithm(1); a < algorithmEnd; a++ {
		out = append(out, a)
	}
	return out
}

func (a Algorithm) String() string {
	switch a {
	case RSAPKCS1v15:
		return "RSAES_PKCS1_V1_5"
	case RSAOAEPSHA1:
		return "RSAES_OAEP_SHA_1"
	case RSAOAEPSHA256:
		return "RSAES_OAEP_SHA_256"
	case SM2PKE:
		return "SM2PKE"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// Spec is the key pair kind an algorithm needs.
func (a Algorithm) Spec() PairSpec {
	if a == SM2PKE {
		return SM2
	}
	return RSA2048
}

// Fits reports whether alg decrypts with a pair of spec: the RSA
// algorithms with an RSA pair of any size, SM2PKE with an SM2 pair.
func (a Algorithm) Fits(spec PairSpec) bool {
	if a == SM2PKE {
		return spec == SM2
	}
	return spec.RSA()
}

// KeyPair is a wrapping key pair whose private half stays in the token.
type KeyPair struct {
	ID        KeyID
	Spec      PairSpec
	PublicDER []byte // SubjectPublicKeyInfo, DER
}

// SecretKeyRequest names a secret key: the object with ID when ID is set
// (a key recorded earlier), else the one labelled Label, which is created
// when the token has none. A key found either way is used only if it is
// sensitive, was never extractable and is of Kind's key type.
type SecretKeyRequest struct {
	ID    KeyID
	Label string
	Kind  SecretKind
	// NewID is the CKA_ID a key created now gets (NewKeyID); empty: a
	// random one.
	NewID KeyID
}

// SecretKind is the kind of a named secret key.
type SecretKind int

const (
	AES256     SecretKind = iota + 1 // AES-256-GCM sealing
	HMACSHA256                       // HMAC-SHA256
)

// ImportRequest asks for key material, encrypted to a wrapping key, to become
// a non-extractable AES key object in the token.
type ImportRequest struct {
	ID          KeyID // CKA_ID of the new object (NewKeyID); empty: a random one
	WrappingKey KeyID
	Algorithm   Algorithm // how the material, or the Envelope's ephemeral key, was encrypted to WrappingKey
	Envelope    Envelope
	KeyBytes    int // with an Envelope: the length of the encrypted ephemeral key at the front (the RSA modulus)
	Ciphertext  []byte
	Size        int    // material length the key spec demands, in bytes
	Label       string // CKA_LABEL of the new object
}

// Imported is a material key made by ImportAES. CheckValue is AES-ECB of a
// zero block under the key (the classic key check value), computed inside
// the token, so that material can be compared without being seen.
type Imported struct {
	ID         KeyID
	CheckValue []byte
}

// Token is what the service needs from an HSM. Every method takes a context
// whose deadline bounds waiting for a session, and opaque key IDs.
type Token interface {
	// GenerateKeyPair makes a wrapping key pair inside the token, both
	// halves labelled label, with id as their CKA_ID (NewKeyID; empty: a
	// random one). A caller that records the id before the object exists
	// can tell, after a crash, an object it made from one it never knew.
	GenerateKeyPair(ctx context.Context, spec PairSpec, label string, id KeyID) (KeyPair, error)
	// Decrypt decrypts with a wrapping private key. Any failure caused by the
	// ciphertext is ErrBadCiphertext and nothing else.
	Decrypt(ctx context.Context, id KeyID, alg Algorithm, ciphertext []byte) ([]byte, error)
	// ImportAES turns encrypted material into a non-extractable AES object
	// and returns it with its check value.
	ImportAES(ctx context.Context, req ImportRequest) (Imported, error)
	// SecretKey finds a secret key, creating it on first use (see SecretKeyRequest).
	SecretKey(ctx context.Context, req SecretKeyRequest) (KeyID, error)
	// Seal encrypts under a token AES key and authenticates with aad, by
	// the scheme the token can do (AES-GCM, or encrypt-then-MAC with
	// key.MAC); the result says its scheme.
	Seal(ctx context.Context, key SealKey, plaintext, aad []byte) ([]byte, error)
	// Open reverses Seal; any failure caused by the bytes is ErrBadCiphertext.
	Open(ctx context.Context, key SealKey, sealed, aad []byte) ([]byte, error)
	// MAC computes HMAC-SHA256 under a token HMAC key.
	MAC(ctx context.Context, id KeyID, data []byte) ([]byte, error)
	// Delete destroys every object with this id.
	Delete(ctx context.Context, id KeyID) error
	// GenerateSigningPair makes a signing key pair inside the token, as
	// GenerateKeyPair makes a wrapping pair.
	GenerateSigningPair(ctx context.Context, spec SigningSpec, label string, id KeyID) (KeyPair, error)
	// Sign signs a SHA-256 digest with a signing private key, in the token.
	Sign(ctx context.Context, id KeyID, alg SignAlgorithm, digest []byte) ([]byte, error)
	// ImportPrivateKey makes an imported private key a token object.
	ImportPrivateKey(ctx context.Context, req PrivateKeyRequest) (KeyID, error)
}

var _ Token = (*HSM)(nil)
