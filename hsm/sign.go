package hsm

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/asymkey"
)

// SigningSpec is the kind of a signing key pair (a KMS asymmetric key
// whose usage is SIGN/VERIFY).
type SigningSpec int

const (
	SignRSA2048 SigningSpec = iota + 1
	SignRSA3072
	SignRSA4096
	SignECP256
	SignECP256K // secp256k1
	SignSM2     // no token signs SM2DSA through a mechanism Keyport knows yet: the probe never finds it
	signingSpecEnd
)

// signingSpecs is each spec's key kind, whose sizes and curves asymkey
// knows.
var signingSpecs = map[SigningSpec]asymkey.Spec{
	SignRSA2048: asymkey.RSA2048, SignRSA3072: asymkey.RSA3072, SignRSA4096: asymkey.RSA4096,
	SignECP256: asymkey.ECP256, SignECP256K: asymkey.ECP256K, SignSM2: asymkey.SM2,
}

func (s SigningSpec) String() string {
	if k, ok := signingSpecs[s]; ok {
		return k.String()
	}
	return fmt.Sprintf("SigningSpec(%d)", int(s))
}

func (s SigningSpec) rsa() bool { return signingSpecs[s].RSABits() != 0 }

// SigningSpecs lists every signing spec, for the probe and tests.
func SigningSpecs() []SigningSpec {
	out := make([]SigningSpec, 0, signingSpecEnd-1)
	for s := SigningSpec(1); s < signingSpecEnd; s++ {
		out = append(out, s)
	}
	return out
}

// SignAlgorithm is how a digest is signed. Every one signs a 32-byte
// digest, computed by the caller: SHA-256, or SM3(Z_A ‖ M) for SM2DSA.
type SignAlgorithm int

const (
	RSAPSSSHA256   SignAlgorithm = iota + 1 // RSASSA-PSS, MGF1-SHA-256, 32-byte salt
	RSAPKCS1SHA256                          // RSASSA-PKCS1-v1_5
	ECDSASHA256                             // ECDSA; the signature is ASN.1 DER (r, s)
	SM2DSA                                  // SM2 signature (GB/T 32918.2); ASN.1 DER (r, s)
	signAlgorithmEnd
)

// schemes are the algorithms as asymkey, which checks signatures, names them.
var schemes = map[SignAlgorithm]asymkey.Scheme{
	RSAPSSSHA256: asymkey.PSS, RSAPKCS1SHA256: asymkey.PKCS1, ECDSASHA256: asymkey.ECDSA, SM2DSA: asymkey.SM2DSA,
}

// SignAlgorithms lists every signing algorithm.
func SignAlgorithms() []SignAlgorithm {
	out := make([]SignAlgorithm, 0, signAlgorithmEnd-1)
	for a := SignAlgorithm(1); a < signAlgorithmEnd; a++ {
		out = append(out, a)
	}
	return out
}

func (a SignAlgorithm) String() string {
	switch a {
	case RSAPSSSHA256:
		return "RSA_PSS_SHA_256"
	case RSAPKCS1SHA256:
		return "RSA_PKCS1_SHA_256"
	case ECDSASHA256:
		return "ECDSA_SHA_256"
	case SM2DSA:
		return "SM2DSA"
	}
	return fmt.Sprintf("SignAlgorithm(%d)", int(a))
}

// Fits reports whether the algorithm signs with keys of spec.
func (a SignAlgorithm) Fits(spec SigningSpec) bool {
	return schemes[a].Fits(signingSpecs[spec])
}

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017
// §9.2): CKM_RSA_PKCS signs what it is given, so PKCS#1 v1.5 over a
// digest needs it in front.
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// signMechanism is the token's mechanism for a and what it signs.
func signMechanism(a SignAlgorithm, digest []byte) ([]*pkcs11.Mechanism, []byte) {
	switch a {
	case RSAPSSSHA256:
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, 32))}, digest
	case RSAPKCS1SHA256:
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, append(append([]byte{}, sha256DigestInfo...), digest...)
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, digest
}

// GenerateSigningPair makes a signing key pair inside the token, both
// halves labelled label, with id as their CKA_ID (NewKeyID; empty: a random
// one). The private half is sensitive, never extractable, and may only
// sign, with the mechanisms of its spec's algorithms; the public half may
// do nothing in the token (signatures are verified from PublicDER).
func (h *HSM) GenerateSigningPair(ctx context.Context, spec SigningSpec, label string, want KeyID) (KeyPair, error) {
	if label == "" {
		return KeyPair{}, fmt.Errorf("generate signing pair: empty label")
	}
	if !h.caps.SigningSpecs[spec] {
		return KeyPair{}, fmt.Errorf("%w: signing key spec %s", ErrUnsupported, spec)
	}
	raw, id, err := keyIDOr(want)
	if err != nil {
		return KeyPair{}, err
	}
	pub, priv := h.signingTemplates(spec, raw, label)
	der, err := h.generatePair(ctx, pairRequest{
		name: spec.String(), id: id, mech: signingKeyGen(spec), pub: pub, priv: priv, keyType: signingKeyType(spec),
		publicDER: func(c *conn, s pkcs11.SessionHandle, o pkcs11.ObjectHandle) ([]byte, error) {
			return c.signingPublicDER(s, spec, o)
		},
	})
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{ID: id, PublicDER: der}, nil
}

func signingKeyGen(spec SigningSpec) []*pkcs11.Mechanism {
	if spec.rsa() {
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
}

func signingKeyType(spec SigningSpec) uint {
	if spec.rsa() {
		return pkcs11.CKK_RSA
	}
	return pkcs11.CKK_EC
}

// signingTemplates are the templates of a signing pair.
func (h *HSM) signingTemplates(spec SigningSpec, rawID []byte, label string) (pub, priv []*pkcs11.Attribute) {
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, signingKeyType(spec)),
			pkcs11.NewAttribute(pkcs11.CKA_ID, rawID),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		}
	}
	pub = append(common(pkcs11.CKO_PUBLIC_KEY), publicKeyUsage...)
	if k := signingSpecs[spec]; k.RSABits() != 0 {
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, k.RSABits()), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	} else {
		pub = append(pub, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, mustMarshal(k.Curve())))
	}
	priv = append(common(pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN_RECOVER, false),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	)
	if h.caps.AllowedMechanisms {
		var mechs []uint
		for _, a := range SignAlgorithms() {
			if a.Fits(spec) && h.caps.Sign[a] {
				m, _ := signMechanism(a, nil)
				mechs = append(mechs, m[0].Mechanism)
			}
		}
		priv = append(priv, allowedMechanisms(mechs...))
	}
	return pub, append(priv, h.caps.unmodifiable()...)
}

// signingPublicDER reads a signing public key as a SubjectPublicKeyInfo.
func (c *conn) signingPublicDER(s pkcs11.SessionHandle, spec SigningSpec, o pkcs11.ObjectHandle) ([]byte, error) {
	if !spec.rsa() {
		return c.ecPublicDER(s, signingSpecs[spec], o)
	}
	k, err := c.rsaPublic(s, o)
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(k)
}

// ecPublicDER reads an EC public key's CKA_EC_POINT as a
// SubjectPublicKeyInfo of its curve, checking the point is on it.
func (c *conn) ecPublicDER(s pkcs11.SessionHandle, spec asymkey.Spec, o pkcs11.ObjectHandle) ([]byte, error) {
	attrs, err := c.mod.GetAttributeValue(s, o, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, fmt.Errorf("read %s public point: %w", spec, err)
	}
	point := attrs[0].Value
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner // wrapped in an OCTET STRING, as PKCS#11 asks
	}
	pub, err := asymkey.PublicFromPoint(spec, point)
	if err != nil {
		return nil, err
	}
	return pub.MarshalPKIX()
}

// Sign signs a SHA-256 digest with signing key id, in the token.
func (h *HSM) Sign(ctx context.Context, id KeyID, alg SignAlgorithm, digest []byte) ([]byte, error) {
	if !h.caps.Sign[alg] {
		return nil, fmt.Errorf("%w: signing algorithm %s", ErrUnsupported, alg)
	}
	if len(digest) != 32 {
		return nil, fmt.Errorf("sign: a SHA-256 digest is 32 bytes, not %d", len(digest))
	}
	var sig []byte
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		e, err := c.key(s, id)
		if err != nil {
			return err
		}
		if (e.keyType == pkcs11.CKK_RSA) != (alg == RSAPSSSHA256 || alg == RSAPKCS1SHA256) {
			return fmt.Errorf("%w: %s with key %s", ErrUnsupported, alg, id)
		}
		sig, err = c.signOnce(s, e.handle, alg, digest)
		return err
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// signOnce signs digest with key under alg; ECDSA's r‖s becomes DER.
func (c *conn) signOnce(s pkcs11.SessionHandle, key pkcs11.ObjectHandle, alg SignAlgorithm, digest []byte) ([]byte, error) {
	mech, data := signMechanism(alg, digest)
	if err := c.mod.SignInit(s, mech, key); err != nil {
		return nil, fmt.Errorf("sign %s: %w", alg, err)
	}
	sig, err := c.mod.Sign(s, data)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", alg, err)
	}
	if alg != ECDSASHA256 {
		return sig, nil
	}
	if len(sig) == 0 || len(sig)%2 != 0 {
		return nil, fmt.Errorf("sign %s: the token returned %d bytes", alg, len(sig))
	}
	n := len(sig) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
}

// Verify checks a signature over a SHA-256 digest against a public key
// (SubjectPublicKeyInfo, DER), in process: the key is public. It reports
// whether the signature holds; an error only for a key it cannot read.
func Verify(publicDER []byte, alg SignAlgorithm, digest, sig []byte) (bool, error) {
	pub, err := asymkey.ParsePKIX(publicDER)
	if err != nil {
		return false, fmt.Errorf("read public key: %w", err)
	}
	if !schemes[alg].Fits(pub.Spec()) {
		return false, fmt.Errorf("%w: %s with a %s key", ErrUnsupported, alg, pub.Spec())
	}
	return pub.Verify(schemes[alg], digest, sig), nil
}

// probeSign finds which signing specs and algorithms work, on throwaway
// session pairs, each signature checked in Go. RSA-3072 and RSA-4096 are
// taken to work where RSA-2048 does (generating them to find out would
// cost start-up seconds on a software token).
func (c *conn) probeSign(s pkcs11.SessionHandle, caps *Capabilities) {
	caps.Sign, caps.SigningSpecs = map[SignAlgorithm]bool{}, map[SigningSpec]bool{}
	digest := make([]byte, 32)
	for _, spec := range []SigningSpec{SignRSA2048, SignECP256, SignECP256K} {
		probe := &HSM{caps: Capabilities{}}
		pub, priv := probe.signingTemplates(spec, []byte("keyport-sign-probe"), "keyport-sign-probe")
		pubH, privH, err := c.mod.GenerateKeyPair(s, signingKeyGen(spec), sessionCopy(pub), sessionCopy(priv))
		if err != nil {
			continue
		}
		der, err := c.signingPublicDER(s, spec, pubH)
		for _, a := range SignAlgorithms() {
			if err != nil || !a.Fits(spec) {
				continue
			}
			sig, serr := c.signOnce(s, privH, a, digest)
			if ok, _ := Verify(der, a, digest, sig); serr == nil && ok {
				caps.Sign[a] = true
				caps.SigningSpecs[spec] = true
			}
		}
		_ = c.mod.DestroyObject(s, privH)
		_ = c.mod.DestroyObject(s, pubH)
	}
	if caps.SigningSpecs[SignRSA2048] {
		caps.SigningSpecs[SignRSA3072], caps.SigningSpecs[SignRSA4096] = true, true
	}
}
