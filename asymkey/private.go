package asymkey

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// PrivateKey is a private key of one spec, in process for one operation:
// whoever opens one wipes it (Wipe) when done. Exactly one field is set.
type PrivateKey struct {
	spec Spec
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey // P-256
	sm2  *sm2.PrivateKey
	k1   *secp256k1.PrivateKey
}

// Generate makes a private key of spec.
func Generate(spec Spec) (*PrivateKey, error) {
	k := &PrivateKey{spec: spec}
	var err error
	switch spec {
	case RSA2048, RSA3072, RSA4096:
		k.rsa, err = rsa.GenerateKey(rand.Reader, spec.RSABits())
	case ECP256:
		k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case SM2:
		k.sm2, err = sm2.GenerateKey(rand.Reader)
	case ECP256K:
		k.k1, err = secp256k1.GeneratePrivateKey()
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, spec)
	}
	if err != nil {
		return nil, fmt.Errorf("asymkey: generate %s: %w", spec, err)
	}
	return k, nil
}

// Spec is the key's spec.
func (k *PrivateKey) Spec() Spec { return k.spec }

// Public is the key's public half.
func (k *PrivateKey) Public() *PublicKey {
	switch {
	case k.rsa != nil:
		return &PublicKey{spec: k.spec, rsa: &k.rsa.PublicKey}
	case k.ec != nil:
		return &PublicKey{spec: k.spec, ec: &k.ec.PublicKey}
	case k.sm2 != nil:
		return &PublicKey{spec: k.spec, ec: &k.sm2.PublicKey}
	}
	return &PublicKey{spec: k.spec, k1: k.k1.PubKey()}
}

// Wipe zeroes what it can of the key: Go's big integers keep their words,
// which are cleared in place; secp256k1 scalars zero themselves.
func (k *PrivateKey) Wipe() {
	clearInt := func(i *big.Int) {
		if i != nil {
			clear(i.Bits())
		}
	}
	switch {
	case k.rsa != nil:
		clearInt(k.rsa.D)
		for _, p := range k.rsa.Primes {
			clearInt(p)
		}
		clearInt(k.rsa.Precomputed.Dp)
		clearInt(k.rsa.Precomputed.Dq)
		clearInt(k.rsa.Precomputed.Qinv)
	case k.ec != nil:
		clearInt(k.ec.D)
	case k.sm2 != nil:
		clearInt(k.sm2.D)
	case k.k1 != nil:
		k.k1.Zero()
	}
}

// pkcs8 is PKCS#8's PrivateKeyInfo (RFC 5208), as far as it is read here.
type pkcs8 struct {
	Version    int
	Algorithm  algorithmIdentifier
	PrivateKey []byte
}

// ecPrivateKey is SEC 1's ECPrivateKey (RFC 5915).
type ecPrivateKey struct {
	Version       int
	PrivateKey    []byte
	NamedCurveOID asn1.ObjectIdentifier `asn1:"optional,explicit,tag:0"`
	PublicKey     asn1.BitString        `asn1:"optional,explicit,tag:1"`
}

// MarshalPKCS8 writes the key as PKCS#8 DER: the caller clears it after use.
func (k *PrivateKey) MarshalPKCS8() ([]byte, error) {
	switch {
	case k.rsa != nil:
		return x509.MarshalPKCS8PrivateKey(k.rsa)
	case k.ec != nil:
		return x509.MarshalPKCS8PrivateKey(k.ec)
	case k.sm2 != nil:
		return smx509.MarshalPKCS8PrivateKey(k.sm2)
	}
	scalar := k.k1.Serialize()
	defer clear(scalar)
	point := k.k1.PubKey().SerializeUncompressed()
	inner, err := asn1.Marshal(ecPrivateKey{Version: 1, PrivateKey: scalar, PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)}})
	if err != nil {
		return nil, err
	}
	defer clear(inner)
	params, _ := asn1.Marshal(OIDSecp256k1)
	return asn1.Marshal(pkcs8{Algorithm: algorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: params}}, PrivateKey: inner})
}

// ParsePKCS8 reads a PKCS#8 private key of any spec, and checks that it
// is one: its public half must be on its curve, or its RSA key valid.
func ParsePKCS8(der []byte) (*PrivateKey, error) {
	var info pkcs8
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("asymkey: not a PKCS#8 private key: %w", errors.Join(err, errTrailing(rest)))
	}
	defer clear(info.PrivateKey)
	var curve asn1.ObjectIdentifier
	if info.Algorithm.Algorithm.Equal(oidECPublicKey) {
		if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &curve); err != nil {
			return nil, fmt.Errorf("%w: EC key without a named curve", ErrUnsupported)
		}
	}
	if curve.Equal(OIDSecp256k1) {
		var ec ecPrivateKey
		if _, err := asn1.Unmarshal(info.PrivateKey, &ec); err != nil || len(ec.PrivateKey) != 32 {
			return nil, errors.New("asymkey: malformed secp256k1 private key")
		}
		defer clear(ec.PrivateKey)
		var d secp256k1.ModNScalar
		if overflow := d.SetByteSlice(ec.PrivateKey); overflow || d.IsZero() {
			return nil, errors.New("asymkey: secp256k1 private scalar out of range")
		}
		k := &PrivateKey{spec: ECP256K, k1: secp256k1.NewPrivateKey(&d)}
		d.Zero()
		return k, nil
	}
	parsed, err := smx509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("asymkey: %w", err)
	}
	switch p := parsed.(type) {
	case *rsa.PrivateKey:
		spec, err := specOfRSA(p.N.BitLen())
		if err != nil {
			return nil, err
		}
		return &PrivateKey{spec: spec, rsa: p}, nil
	case *sm2.PrivateKey:
		return &PrivateKey{spec: SM2, sm2: p}, nil
	case *ecdsa.PrivateKey:
		if p.Curve == elliptic.P256() {
			return &PrivateKey{spec: ECP256, ec: p}, nil
		}
		return nil, fmt.Errorf("%w: EC curve %s", ErrUnsupported, p.Curve.Params().Name)
	}
	return nil, fmt.Errorf("%w: %T", ErrUnsupported, parsed)
}

// RSAKey is an RSA key's private half, for a token object to be made of
// it; nil for an EC key.
func (k *PrivateKey) RSAKey() *rsa.PrivateKey { return k.rsa }

// Scalar is an EC key's private scalar, 32 bytes big-endian, for a token
// object to be made of it; nil for an RSA key. The caller clears it.
func (k *PrivateKey) Scalar() []byte {
	switch {
	case k.ec != nil:
		return k.ec.D.FillBytes(make([]byte, 32))
	case k.sm2 != nil:
		return k.sm2.D.FillBytes(make([]byte, 32))
	case k.k1 != nil:
		return k.k1.Serialize()
	}
	return nil
}

// FromScalar makes an EC key of spec from its raw private scalar (how
// Alibaba Cloud's SM2PKE_SM4_ECB envelope carries an SM2 key), checking it
// is in range.
func FromScalar(spec Spec, d []byte) (*PrivateKey, error) {
	if len(d) != 32 {
		return nil, fmt.Errorf("asymkey: a %s private scalar is 32 bytes, not %d", spec, len(d))
	}
	switch spec {
	case SM2:
		k, err := sm2.NewPrivateKey(d)
		if err != nil {
			return nil, fmt.Errorf("asymkey: SM2 scalar: %w", err)
		}
		return &PrivateKey{spec: SM2, sm2: k}, nil
	case ECP256:
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, fmt.Errorf("asymkey: P-256 scalar: %w", err)
		}
		return &PrivateKey{spec: ECP256, ec: k}, nil
	case ECP256K:
		var s secp256k1.ModNScalar
		if overflow := s.SetByteSlice(d); overflow || s.IsZero() {
			return nil, errors.New("asymkey: secp256k1 private scalar out of range")
		}
		k := &PrivateKey{spec: ECP256K, k1: secp256k1.NewPrivateKey(&s)}
		s.Zero()
		return k, nil
	}
	return nil, fmt.Errorf("%w: %s has no scalar", ErrUnsupported, spec)
}

// ParsePEM reads a private key in the PEM forms openssl and the clouds'
// guides write: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1
// ("EC PRIVATE KEY", on any curve of a spec). Encrypted PEM is refused:
// decrypt it with openssl first.
func ParsePEM(b []byte) (*PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("asymkey: no PEM block")
	}
	defer clear(block.Bytes)
	switch block.Type {
	case "PRIVATE KEY":
		return ParsePKCS8(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("asymkey: %w", err)
		}
		spec, err := specOfRSA(k.N.BitLen())
		if err != nil {
			return nil, err
		}
		return &PrivateKey{spec: spec, rsa: k}, nil
	case "EC PRIVATE KEY":
		var ec ecPrivateKey
		if _, err := asn1.Unmarshal(block.Bytes, &ec); err != nil || len(ec.PrivateKey) == 0 || len(ec.PrivateKey) > 32 {
			return nil, errors.New("asymkey: malformed EC private key")
		}
		defer clear(ec.PrivateKey)
		spec, ok := specOfCurve(ec.NamedCurveOID)
		if !ok {
			return nil, fmt.Errorf("%w: EC curve %s", ErrUnsupported, ec.NamedCurveOID)
		}
		d := make([]byte, 32)
		defer clear(d)
		copy(d[32-len(ec.PrivateKey):], ec.PrivateKey)
		return FromScalar(spec, d)
	}
	return nil, fmt.Errorf("asymkey: a PEM %q is not an unencrypted private key", block.Type)
}
