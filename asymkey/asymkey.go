// Package asymkey is asymmetric cryptography in process, for the key specs
// Keyport serves: RSA of 2048, 3072 and 4096 bits, ECDSA on P-256 and
// secp256k1, and SM2. It reads and writes their public halves as
// SubjectPublicKeyInfo and their private halves as PKCS#8, which neither
// Go's crypto/x509 (no secp256k1, no SM2) nor gmsm's smx509 (no secp256k1)
// does for all of them; and it signs, verifies, encrypts and decrypts.
//
// It serves what runs outside the token: SOFTWARE-level keys (sealed by
// the master key, opened for one operation), verification and encryption
// from a public half, and the checks of a token's public keys and
// signatures.
package asymkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// Spec is the kind of an asymmetric key pair.
type Spec int

const (
	RSA2048 Spec = iota + 1
	RSA3072
	RSA4096
	ECP256  // NIST P-256 (secp256r1)
	ECP256K // secp256k1
	SM2     // the SM2 curve of GB/T 32918
)

// specs describes each spec: RSA by modulus size, EC by named curve.
var specs = map[Spec]struct {
	name  string
	bits  int                   // RSA modulus
	curve asn1.ObjectIdentifier // EC named curve
}{
	RSA2048: {name: "RSA_2048", bits: 2048},
	RSA3072: {name: "RSA_3072", bits: 3072},
	RSA4096: {name: "RSA_4096", bits: 4096},
	ECP256:  {name: "EC_P256", curve: OIDP256},
	ECP256K: {name: "EC_P256K", curve: OIDSecp256k1},
	SM2:     {name: "EC_SM2", curve: OIDSM2},
}

// The named curves' OIDs, which CKA_EC_PARAMS and SubjectPublicKeyInfo
// carry.
var (
	OIDP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	OIDSecp256k1 = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
	OIDSM2       = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}

	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSM2Key      = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 1} // sm2 as an algorithm, as some tools write it
)

func (s Spec) String() string {
	if d, ok := specs[s]; ok {
		return d.name
	}
	return fmt.Sprintf("Spec(%d)", int(s))
}

// RSABits is an RSA spec's modulus size; 0 for an EC spec.
func (s Spec) RSABits() int { return specs[s].bits }

// Curve is an EC spec's named curve; nil for an RSA spec.
func (s Spec) Curve() asn1.ObjectIdentifier { return specs[s].curve }

func specOfCurve(oid asn1.ObjectIdentifier) (Spec, bool) {
	for s, d := range specs {
		if d.curve != nil && d.curve.Equal(oid) {
			return s, true
		}
	}
	return 0, false
}

func specOfRSA(bits int) (Spec, error) {
	for s, d := range specs {
		if d.bits == bits {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: RSA key of %d bits", ErrUnsupported, bits)
}

// ErrUnsupported is a key of no spec Keyport serves.
var ErrUnsupported = errors.New("asymkey: unsupported key")

// PublicKey is the public half of a key of one spec; exactly one of its
// fields is set.
type PublicKey struct {
	spec Spec
	rsa  *rsa.PublicKey
	ec   *ecdsa.PublicKey // P-256, and SM2 on gmsm's curve
	k1   *secp256k1.PublicKey
}

// Spec is the key's spec.
func (p *PublicKey) Spec() Spec { return p.spec }

// Equal reports whether two public halves are the same key.
func (p *PublicKey) Equal(q *PublicKey) bool {
	switch {
	case p.spec != q.spec:
		return false
	case p.rsa != nil:
		return p.rsa.Equal(q.rsa)
	case p.ec != nil:
		return p.ec.Equal(q.ec)
	}
	return p.k1.IsEqual(q.k1)
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type subjectPublicKeyInfo struct {
	Algorithm algorithmIdentifier
	PublicKey asn1.BitString
}

// ParsePKIX reads a SubjectPublicKeyInfo of any spec.
func ParsePKIX(der []byte) (*PublicKey, error) {
	var info subjectPublicKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("asymkey: not a SubjectPublicKeyInfo: %w", errors.Join(err, errTrailing(rest)))
	}
	if !info.Algorithm.Algorithm.Equal(oidECPublicKey) && !info.Algorithm.Algorithm.Equal(oidSM2Key) {
		pub, err := smx509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, err
		}
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T", ErrUnsupported, pub)
		}
		spec, err := specOfRSA(k.N.BitLen())
		if err != nil {
			return nil, err
		}
		return &PublicKey{spec: spec, rsa: k}, nil
	}
	var curve asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &curve); err != nil {
		return nil, fmt.Errorf("%w: EC key without a named curve", ErrUnsupported)
	}
	spec, ok := specOfCurve(curve)
	if !ok {
		return nil, fmt.Errorf("%w: EC curve %s", ErrUnsupported, curve)
	}
	return PublicFromPoint(spec, info.PublicKey.RightAlign())
}

func errTrailing(rest []byte) error {
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

// PublicFromPoint makes an EC spec's public half from its uncompressed
// point (04 ‖ x ‖ y), checking that the point is on the curve.
func PublicFromPoint(spec Spec, point []byte) (*PublicKey, error) {
	var err error
	p := &PublicKey{spec: spec}
	switch spec {
	case ECP256:
		p.ec, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	case SM2:
		p.ec, err = sm2.NewPublicKey(point)
	case ECP256K:
		if len(point) != 65 || point[0] != 4 {
			return nil, fmt.Errorf("asymkey: %s point is not uncompressed", spec)
		}
		p.k1, err = secp256k1.ParsePubKey(point)
	default:
		return nil, fmt.Errorf("%w: %s has no point", ErrUnsupported, spec)
	}
	if err != nil {
		return nil, fmt.Errorf("asymkey: %s point: %w", spec, err)
	}
	return p, nil
}

// Point is an EC public half's uncompressed point.
func (p *PublicKey) Point() []byte {
	switch {
	case p.k1 != nil:
		return p.k1.SerializeUncompressed()
	case p.ec != nil:
		b, _ := p.ec.Bytes() // on the curve: checked when made
		if b == nil {        // gmsm's curve, which crypto/ecdsa does not know
			b = elliptic.Marshal(p.ec.Curve, p.ec.X, p.ec.Y) //nolint:staticcheck // the one encoder for a curve ecdsa lacks
		}
		return b
	}
	return nil
}

// MarshalPKIX writes the public half as a SubjectPublicKeyInfo:
// rsaEncryption for RSA, id-ecPublicKey with the named curve for EC (SM2
// included, as OpenSSL 3 and gmsm read it).
func (p *PublicKey) MarshalPKIX() ([]byte, error) {
	if p.rsa != nil {
		return smx509.MarshalPKIXPublicKey(p.rsa)
	}
	params, err := asn1.Marshal(p.spec.Curve())
	if err != nil {
		return nil, err
	}
	point := p.Point()
	return asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}},
		PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
}

// RSA is an RSA public half's key; nil for an EC one.
func (p *PublicKey) RSA() *rsa.PublicKey { return p.rsa }
