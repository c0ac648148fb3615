package service

import (
	"time"

	"github.com/keyport-kms/keyport/hsm"
)

// KeySpec is the kind of a CMK's material.
type KeySpec string

const (
	SpecAES256 KeySpec = "Aliyun_AES_256" // 32 bytes of material, AES-256-GCM
	SpecSM4    KeySpec = "Aliyun_SM4"     // 16 bytes of material, SM4-GCM

	// Asymmetric keys (SIGN/VERIFY or ENCRYPT/DECRYPT): a key pair, the private half in the
	// token (HSM) or sealed (SOFTWARE). See asymmetricSpecs.
	SpecRSA2048 KeySpec = "RSA_2048"
	SpecRSA3072 KeySpec = "RSA_3072"
	SpecRSA4096 KeySpec = "RSA_4096"
	SpecECP256  KeySpec = "EC_P256"
	SpecECP256K KeySpec = "EC_P256K" // secp256k1
	SpecECSM2   KeySpec = "EC_SM2"
)

// MaterialSize is how many bytes of material the spec takes.
func (s KeySpec) MaterialSize() int {
	switch s {
	case SpecAES256:
		return 32
	case SpecSM4:
		return 16
	}
	return 0
}

// KeyUsage is what a CMK may do: symmetric keys encrypt and decrypt,
// asymmetric ones sign and verify.
type KeyUsage string

const (
	UsageEncryptDecrypt KeyUsage = "ENCRYPT/DECRYPT"
	UsageSignVerify     KeyUsage = "SIGN/VERIFY"
)

// Origin is where a CMK's material came from.
type Origin string

const (
	OriginKMS      Origin = "Aliyun_KMS" // made by Keyport
	OriginExternal Origin = "EXTERNAL"   // imported by the user (BYOK)
)

// ProtectionLevel says where the material lives.
type ProtectionLevel string

const (
	ProtectionSoftware ProtectionLevel = "SOFTWARE" // sealed by an HSM master key, used in process for one operation
	ProtectionHSM      ProtectionLevel = "HSM"      // a non-extractable token object where the token can do the cipher
)

// KeyState is a CMK's state.
type KeyState string

const (
	StateEnabled         KeyState = "Enabled"
	StateDisabled        KeyState = "Disabled"
	StatePendingImport   KeyState = "PendingImport"
	StatePendingDeletion KeyState = "PendingDeletion"
	StateArchived        KeyState = "Archived" // decrypts, does not encrypt (Tencent Cloud)
)

// WrappingKeySpec is the kind of wrapping public key asked for.
type WrappingKeySpec string

const (
	WrappingRSA2048 WrappingKeySpec = "RSA_2048"
	WrappingRSA3072 WrappingKeySpec = "RSA_3072" // beyond both clouds, as AWS KMS and GCP offer
	WrappingRSA4096 WrappingKeySpec = "RSA_4096"
	WrappingSM2     WrappingKeySpec = "EC_SM2"
)

// wrappingSpecs are the specs GetParametersForImport issues, each with
// its token pair.
var wrappingSpecs = map[WrappingKeySpec]hsm.PairSpec{
	WrappingRSA2048: hsm.RSA2048, WrappingRSA3072: hsm.RSA3072, WrappingRSA4096: hsm.RSA4096, WrappingSM2: hsm.SM2,
}

// WrappingSpecs lists them, in the order the README names them.
func WrappingSpecs() []WrappingKeySpec {
	return []WrappingKeySpec{WrappingRSA2048, WrappingRSA3072, WrappingRSA4096, WrappingSM2}
}

func hsmSpec(s WrappingKeySpec) hsm.PairSpec { return wrappingSpecs[s] }

// WrappingAlgorithm is how material is encrypted to the wrapping key.
type WrappingAlgorithm string

const (
	AlgRSAPKCS1v15   WrappingAlgorithm = "RSAES_PKCS1_V1_5"
	AlgRSAOAEPSHA1   WrappingAlgorithm = "RSAES_OAEP_SHA_1"
	AlgRSAOAEPSHA256 WrappingAlgorithm = "RSAES_OAEP_SHA_256"
	AlgSM2PKE        WrappingAlgorithm = "SM2PKE"
	// RSA-AES key wrap (AWS KMS, GCP, OpenBao): an ephemeral AES-256 key
	// under RSA-OAEP with SHA-1 or SHA-256, then the material under it
	// with AES key wrap with padding (RFC 5649).
	AlgRSAAESKeyWrapSHA1   WrappingAlgorithm = "RSA_AES_KEY_WRAP_SHA_1"
	AlgRSAAESKeyWrapSHA256 WrappingAlgorithm = "RSA_AES_KEY_WRAP_SHA_256"
	// Alibaba Cloud's envelopes for asymmetric private keys: an ephemeral
	// AES-256 key under RSA-OAEP-SHA-256, then the PKCS#8 key under
	// AES-256-ECB with PKCS#7 padding; or an ephemeral SM4 key under SM2
	// encryption, then the SM2 key's raw scalar under SM4-ECB.
	AlgRSAOAEPAES256ECB WrappingAlgorithm = "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD"
	AlgSM2SM4ECB        WrappingAlgorithm = "SM2PKE_SM4_ECB"
)

// carries says what an algorithm may import: symmetric material, an
// asymmetric private key, or either.
type carries int

const (
	carriesMaterial carries = 1 << iota
	carriesPrivateKey
)

var allRSA = []WrappingKeySpec{WrappingRSA2048, WrappingRSA3072, WrappingRSA4096}

// wrapping pairs each algorithm with the specs it works with, the token's
// algorithm for what is encrypted to the pair, and the envelope around
// the material.
var wrapping = map[WrappingAlgorithm]struct {
	specs    []WrappingKeySpec
	alg      hsm.Algorithm
	envelope hsm.Envelope
	carries  carries
}{
	AlgRSAPKCS1v15:         {[]WrappingKeySpec{WrappingRSA2048}, hsm.RSAPKCS1v15, hsm.EnvelopeNone, carriesMaterial}, // deprecated (AWS, 2023): not offered with larger keys
	AlgRSAOAEPSHA1:         {allRSA, hsm.RSAOAEPSHA1, hsm.EnvelopeNone, carriesMaterial},
	AlgRSAOAEPSHA256:       {allRSA, hsm.RSAOAEPSHA256, hsm.EnvelopeNone, carriesMaterial},
	AlgSM2PKE:              {[]WrappingKeySpec{WrappingSM2}, hsm.SM2PKE, hsm.EnvelopeNone, carriesMaterial},
	AlgRSAAESKeyWrapSHA1:   {allRSA, hsm.RSAOAEPSHA1, hsm.EnvelopeAESKeyWrapPad, carriesMaterial | carriesPrivateKey},
	AlgRSAAESKeyWrapSHA256: {allRSA, hsm.RSAOAEPSHA256, hsm.EnvelopeAESKeyWrapPad, carriesMaterial | carriesPrivateKey},
	AlgRSAOAEPAES256ECB:    {allRSA, hsm.RSAOAEPSHA256, hsm.EnvelopeNone, carriesPrivateKey},
	AlgSM2SM4ECB:           {[]WrappingKeySpec{WrappingSM2}, hsm.SM2PKE, hsm.EnvelopeNone, carriesPrivateKey},
}

// CreateKeyRequest asks for a new CMK. Empty fields take the cloud's
// defaults: Aliyun_AES_256, ENCRYPT/DECRYPT, Aliyun_KMS, SOFTWARE.
type CreateKeyRequest struct {
	Spec        KeySpec
	Usage       KeyUsage
	Origin      Origin
	Protection  ProtectionLevel
	Description string
	Alias       string // a name shown by dialects that have one (Tencent Cloud), unique
	Tags        map[string]string
	HSMCluster  string // echoed as given (Tencent Cloud's HsmClusterId)
	Policy      string // a key policy (SetKeyPolicy); the default one when empty
	// Automatic rotation, for keys whose material Keyport makes.
	AutoRotate       bool
	RotationInterval time.Duration // DefaultRotationInterval when zero and AutoRotate
}

// KeyMetadata describes a CMK as the APIs show it.
type KeyMetadata struct {
	KeyID           string
	KeyVersionID    string
	Spec            KeySpec
	Usage           KeyUsage
	Origin          Origin
	Protection      ProtectionLevel
	Description     string
	Alias           string
	State           KeyState
	Created         time.Time
	DeleteDate      time.Time // zero unless PendingDeletion
	MaterialExpires time.Time // zero: never, or no material

	Tags               map[string]string
	DeletionProtection bool
	ProtectionNote     string
	HSMCluster         string
	AutoRotate         bool
	RotationInterval   time.Duration
	LastRotation       time.Time // zero if never rotated
	NextRotation       time.Time // zero unless AutoRotate
}

// ListKeysRequest pages through keys: PageNumber from 1 and PageSize 1–200
// (10 by default), or, when Offset is set, from that offset.
type ListKeysRequest struct {
	PageNumber int
	PageSize   int
	Offset     int
}

// ListKeysResponse is one page of keys.
type ListKeysResponse struct {
	Keys       []KeyMetadata
	TotalCount int
	PageNumber int
	PageSize   int
}

// GetParametersForImportRequest asks for a wrapping public key and token.
type GetParametersForImportRequest struct {
	KeyID     string
	Spec      WrappingKeySpec
	Algorithm WrappingAlgorithm
}

// ImportParameters are what the user wraps material with and sends back.
type ImportParameters struct {
	KeyID       string
	PublicKey   []byte // SubjectPublicKeyInfo, DER
	ImportToken string
	Expires     time.Time
}

// ImportKeyMaterialRequest carries wrapped material. Algorithm is optional:
// the token names it; if given it must agree.
type ImportKeyMaterialRequest struct {
	KeyID             string
	EncryptedMaterial []byte
	ImportToken       string
	MaterialExpires   time.Time // zero: never
	Algorithm         WrappingAlgorithm
}

// EncryptRequest encrypts up to MaxPlaintext bytes under a key.
type EncryptRequest struct {
	KeyID     string
	Plaintext []byte
	Context   map[string]string
}

// EncryptResponse carries the self-describing ciphertext blob.
type EncryptResponse struct {
	KeyID          string
	KeyVersionID   string
	CiphertextBlob []byte
}

// DecryptRequest needs no key id: the blob names its key.
type DecryptRequest struct {
	CiphertextBlob []byte
	Context        map[string]string
	Recipient      *Recipient // return the plaintext encrypted to this key
	// ArchivedIsDisabled: the dialect has no Archived state and shows an
	// archived key as Disabled (Alibaba Cloud), so it refuses it as one.
	ArchivedIsDisabled bool
}

// DecryptResponse carries the plaintext (encrypted to the request's
// Recipient, if it named one) and the key that decrypted it.
type DecryptResponse struct {
	KeyID        string
	KeyVersionID string
	Plaintext    []byte
}

// GenerateDataKeyRequest asks for a data key of NumberOfBytes (1–1024) or,
// if zero, of KeySpec AES_256 (the default) or AES_128.
type GenerateDataKeyRequest struct {
	KeyID         string
	KeySpec       string
	NumberOfBytes int
	Context       map[string]string
	Recipient     *Recipient // return the data key encrypted to this key
}

// GenerateDataKeyResponse is the data key in the clear (or encrypted to
// the request's Recipient) and encrypted under the CMK.
type GenerateDataKeyResponse struct {
	KeyID          string
	KeyVersionID   string
	Plaintext      []byte
	CiphertextBlob []byte
}

// Limits the service enforces.
const (
	MaxPlaintext       = 6 * 1024
	MaxDataKeyBytes    = 1024
	MinDeletionDays    = 7
	MaxDeletionDays    = 366
	MaxContextBytes    = 8 * 1024
	MaxDescriptionSize = 1024
	MaxPageSize        = 200
)
