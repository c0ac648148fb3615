package hsm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/miekg/pkcs11"
)

// Path is how an algorithm is carried out on this token.
type Path int

const (
	PathNone   Path = iota // the token cannot do it
	PathNative             // the token's own mechanism
	PathRawRSA             // CKM_RSA_X_509 in the token, OAEP decoding in Go
	PathECDH               // CKM_ECDH1_DERIVE in the token, SM2 KDF and check in Go
	PathVendor             // a configured vendor SM2 mechanism
)

func (p Path) String() string {
	return [...]string{"unsupported", "native", "raw-rsa+oaep-in-go", "ecdh-derive+sm3-kdf-in-go", "vendor-mechanism"}[p]
}

// Capabilities is what start-up found the token can do.
type Capabilities struct {
	Decrypt map[Algorithm]Path // how each algorithm decrypts
	Unwrap  map[Algorithm]bool // whether C_UnwrapKey works with it and reports the length, keeping material out of the process
	SM2Keys bool               // EC key generation on the SM2 curve works

	Sign         map[SignAlgorithm]bool // signing algorithms that work in the token, checked against Verify
	SigningSpecs map[SigningSpec]bool   // signing key pairs the token generates
	// KeyWrapPad is the mechanism that unwraps RFC 5649 (AES key wrap
	// with padding) in the token; 0: none does, and it is done here.
	KeyWrapPad uint

	Unmodifiable      bool // keys can be made with CKA_MODIFIABLE=false
	AllowedMechanisms bool // the token enforces CKA_ALLOWED_MECHANISMS

	Seal   SealScheme // how Seal protects data here
	HMAC   bool       // CKM_SHA256_HMAC works (Keyport cannot start without it)
	Random bool       // C_GenerateRandom works (else nonces come from the operating system)

	// SerialObjectWrites: the token corrupts objects written concurrently
	// (tokenQuirks), so calls that create or destroy token objects run alone.
	SerialObjectWrites bool
	// CopyToToken: key pairs are generated as session objects and copied to
	// the token, so that generation holds no lock; chosen where writes are
	// serial and C_CopyObject keeps the key's provenance attributes.
	CopyToToken bool
}

// tokenQuirks lists what tokens need that no probe can find safely, by the
// start of the model string the token reports.
var tokenQuirks = []struct {
	model string
	quirks
}{
	// SoftHSMv2 issue #573: concurrent creation or destruction of token
	// objects fails with CKR_GENERAL_ERROR and can leave object files
	// unreadable.
	// Its objects are files in a directory every process on the token
	// shares, so the writes are serialised across processes too.
	{"SoftHSM", quirks{serialObjectWrites: true, processLockPath: softHSMLockPath}},
}

type quirks struct {
	serialObjectWrites bool
	// processLockPath names the file whose lock serialises object writes
	// across processes; nil where processes need not agree.
	processLockPath func() string
}

func quirksOf(model string) quirks {
	for _, q := range tokenQuirks {
		if strings.HasPrefix(model, q.model) {
			return q.quirks
		}
	}
	return quirks{}
}

// remoteClients are the modules, by file name, that reach an HSM over a
// network: their calls can block for as long as a lost connection lasts,
// so each call runs under a watchdog (Config.CallTimeout) that answers the
// caller at its deadline. Calls into a local token run inline: the
// watchdog's hand-off costs ~14 µs a call.
var remoteClients = []string{
	"p11-kit-client", // p11-kit remoting (also what tests use as a network HSM)
	"libCryptoki2",   // Thales Luna
	"libcloudhsm",    // AWS CloudHSM
	"libcknfast",     // Entrust nShield Connect
	"libfxpkcs11",    // Fortanix
}

func isRemoteClient(module string) bool {
	base := filepath.Base(module)
	for _, r := range remoteClients {
		if strings.HasPrefix(base, r) {
			return true
		}
	}
	return false
}

func (c Capabilities) log(l *slog.Logger, token string) {
	for _, a := range Algorithms() {
		l.Info("hsm: algorithm path", "token", token, "algorithm", a.String(),
			"decrypt", c.Decrypt[a].String(), "unwrap_in_token", c.Unwrap[a])
	}
	l.Info("hsm: sealing and MAC", "token", token, "seal", c.Seal.String(), "hmac_sha256", c.HMAC, "token_rng", c.Random)
	l.Info("hsm: key policy", "token", token, "unmodifiable_keys", c.Unmodifiable, "allowed_mechanisms_enforced", c.AllowedMechanisms)
	for _, a := range SignAlgorithms() {
		l.Info("hsm: signing algorithm", "token", token, "algorithm", a.String(), "in_token", c.Sign[a])
	}
	l.Info("hsm: AES key wrap with padding (RFC 5649)", "token", token, "in_token", c.KeyWrapPad != 0, "mechanism", fmt.Sprintf("%#x", c.KeyWrapPad))
	l.Info("hsm: object writes", "token", token, "serialised", c.SerialObjectWrites, "generate_as_session_then_copy", c.CopyToToken)
}

// detect tries each algorithm once on throwaway session keys, because a
// mechanism list cannot say which parameters a token accepts (SoftHSM2 lists
// CKM_RSA_PKCS_OAEP yet refuses SHA-256 with it).
// Without full (admin commands, which list, delete and seal but never
// decrypt), only the quick probes run: sealing and MAC.
func (h *HSM) detect(ctx context.Context, full bool) (Capabilities, error) {
	caps := Capabilities{Decrypt: map[Algorithm]Path{}, Unwrap: map[Algorithm]bool{}}
	err := h.do(ctx, func(c *conn, s pkcs11.SessionHandle) error {
		caps.SerialObjectWrites = c.serialWrites
		if err := c.probeSeal(s, &caps); err != nil {
			return err
		}
		if !full {
			return nil
		}
		if err := c.probeRSA(s, &caps); err != nil {
			return err
		}
		c.probeSM2(s, &caps)
		c.probePolicy(s, &caps)
		c.probeSign(s, &caps)
		c.probeKeyWrap(s, &caps)
		return nil
	})
	if err == nil {
		err = caps.required()
	}
	if err != nil {
		return Capabilities{}, err
	}
	return caps, nil
}

// required refuses a token missing what Keyport cannot run without, naming
// the mechanism: sealing (of access-key secrets and SOFTWARE material) and
// HMAC-SHA256 (import tokens, fingerprints, encrypt-then-MAC). Algorithms
// the token cannot do are only disabled (Decrypt[alg] = PathNone).
func (caps Capabilities) required() error {
	switch {
	case caps.Seal == SealNone:
		return fmt.Errorf("%w: the token has none of CKM_AES_GCM, CKM_AES_CBC_PAD, CKM_AES_ECB with a token AES key, so Keyport cannot seal", ErrUnsupported)
	case !caps.HMAC:
		return fmt.Errorf("%w: the token has no CKM_SHA256_HMAC with a generated secret key (CKM_GENERIC_SECRET_KEY_GEN), which Keyport needs", ErrUnsupported)
	}
	return nil
}

// probeSeal finds the best sealing scheme, HMAC-SHA256 and the token's
// random generator, on throwaway session keys: each scheme must round-trip.
// A lost login or session is returned, for the caller to repair and probe
// again, not taken for a missing mechanism.
func (c *conn) probeSeal(s pkcs11.SessionHandle, caps *Capabilities) error {
	if _, err := c.mod.GenerateRandom(s, 16); err == nil {
		caps.Random = true
	}
	aes, err := c.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, append(
		secretTemplate(pkcs11.CKK_AES, false, pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32)))
	if classify(err) != failNone {
		return err
	}
	if err == nil {
		defer func() { _ = c.mod.DestroyObject(s, aes) }()
		msg := []byte("keyport seal probe, three blocks of data.......")
		iv := make([]byte, 16)
		_, _ = rand.Read(iv)
		roundTrip := func(enc, dec func([]byte) ([]byte, error)) bool {
			ct, err := enc(msg)
			if err != nil {
				return false
			}
			pt, err := dec(ct)
			return err == nil && bytes.Equal(pt, msg)
		}
		switch {
		case roundTrip(func(m []byte) ([]byte, error) { return c.gcm(s, aes, true, iv[:gcmNonceSize], []byte("aad"), m) },
			func(ct []byte) ([]byte, error) { return c.gcm(s, aes, false, iv[:gcmNonceSize], []byte("aad"), ct) }):
			caps.Seal = SealGCM
		case roundTrip(func(m []byte) ([]byte, error) { return c.cbc(s, aes, true, iv, m) },
			func(ct []byte) ([]byte, error) { return c.cbc(s, aes, false, iv, ct) }):
			caps.Seal = SealCBCHMAC
		case roundTrip(func(m []byte) ([]byte, error) { return c.ctr(s, aes, iv, m) },
			func(ct []byte) ([]byte, error) { return c.ctr(s, aes, iv, ct) }):
			caps.Seal = SealCTRHMAC
		}
	}
	mac, err := c.mod.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_GENERIC_SECRET_KEY_GEN, nil)}, append(
		secretTemplate(pkcs11.CKK_GENERIC_SECRET, false, pkcs11.CKA_SIGN, pkcs11.CKA_VERIFY), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32)))
	if classify(err) != failNone {
		return err
	}
	if err != nil {
		return nil
	}
	defer func() { _ = c.mod.DestroyObject(s, mac) }()
	if err := c.mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}, mac); err == nil {
		out, err := c.mod.Sign(s, []byte("keyport hmac probe"))
		caps.HMAC = err == nil && len(out) == 32
	}
	return nil
}

func (c *conn) probeRSA(s pkcs11.SessionHandle, caps *Capabilities) error {
	pubH, privH, err := c.mod.GenerateKeyPair(s,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, rsaBits),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
		},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, true),
		})
	if err != nil {
		return fmt.Errorf("generate probe RSA key: %w", err)
	}
	defer func() { _ = c.mod.DestroyObject(s, privH); _ = c.mod.DestroyObject(s, pubH) }()
	pub, err := c.rsaPublic(s, pubH)
	if err != nil {
		return err
	}
	caps.CopyToToken = c.serialWrites && c.copyKeepsProvenance(s, privH)

	msg := make([]byte, 32)
	_, _ = rand.Read(msg)
	for _, alg := range []Algorithm{RSAPKCS1v15, RSAOAEPSHA1, RSAOAEPSHA256} {
		ct, err := encryptRSA(pub, alg, msg)
		if err != nil {
			return err
		}
		if out, err := c.decryptOnce(s, rsaMechanism(alg), privH, ct); err == nil && bytes.Equal(out, msg) {
			caps.Decrypt[alg] = PathNative
		} else if alg != RSAPKCS1v15 {
			if em, err := c.rawRSA(s, privH, ct); err == nil {
				if out, err := oaepDecode(oaepHash(alg), em, nil); err == nil && bytes.Equal(out, msg) {
					caps.Decrypt[alg] = PathRawRSA
				}
			}
		}
		key, err := c.mod.UnwrapKey(s, rsaMechanism(alg), privH, ct, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		})
		if err == nil {
			// Only a token that reports the unwrapped length lets us check the
			// material against the key spec without seeing it. SoftHSM2 leaves
			// CKA_VALUE_LEN at 0, so there material is decrypted instead.
			attrs, aerr := c.mod.GetAttributeValue(s, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil)})
			caps.Unwrap[alg] = aerr == nil && attrUint(attrs[0]) == uint(len(msg))
			_ = c.mod.DestroyObject(s, key)
		}
	}
	return nil
}

// copyKeepsProvenance copies a generated private key (as a session object,
// so nothing is written) and checks that the copy still says it was made
// in the token and never exposed.
func (c *conn) copyKeepsProvenance(s pkcs11.SessionHandle, priv pkcs11.ObjectHandle) bool {
	cp, err := c.mod.CopyObject(s, priv, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false)})
	if err != nil {
		return false
	}
	defer func() { _ = c.mod.DestroyObject(s, cp) }()
	attrs, err := c.mod.GetAttributeValue(s, cp, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_LOCAL, nil),
		pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
	})
	return err == nil && attrBool(attrs[0]) && attrBool(attrs[1]) && attrBool(attrs[2]) && attrBool(attrs[3]) && !attrBool(attrs[4])
}

// decryptOnce is C_DecryptInit and C_Decrypt with mech under key.
func (c *conn) decryptOnce(s pkcs11.SessionHandle, mech []*pkcs11.Mechanism, key pkcs11.ObjectHandle, ct []byte) ([]byte, error) {
	if err := c.mod.DecryptInit(s, mech, key); err != nil {
		return nil, err
	}
	return c.mod.Decrypt(s, ct)
}

// probeSM2 checks that SM2 keys can be made and SM2PKE decrypted.
func (c *conn) probeSM2(s pkcs11.SessionHandle, caps *Capabilities) {
	p := c.cfg.sm2
	pubH, privH, err := c.mod.GenerateKeyPair(s,
		[]*pkcs11.Mechanism{pkcs11.NewMechanism(p.KeyGen, nil)},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, p.KeyType),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, sm2ECParams),
		},
		[]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, p.KeyType),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, !p.vendor()),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, p.vendor()),
		})
	if err != nil {
		return
	}
	defer func() { _ = c.mod.DestroyObject(s, privH); _ = c.mod.DestroyObject(s, pubH) }()
	caps.SM2Keys = true
	der, err := c.sm2PublicDER(s, pubH)
	if err != nil {
		return
	}
	pub, err := parseSM2PublicKey(der)
	if err != nil {
		return
	}
	msg := make([]byte, 32)
	_, _ = rand.Read(msg)
	ct, err := sm2.Encrypt(rand.Reader, pub, msg, nil)
	if err != nil {
		return
	}
	parsed, err := parseSM2Ciphertext(ct)
	if err != nil {
		return
	}
	if p.vendor() {
		in, err := p.Input.encode(parsed)
		if err != nil {
			return
		}
		if out, err := c.decryptOnce(s, p.mechanism(), privH, in); err == nil && bytes.Equal(out, msg) {
			caps.Decrypt[SM2PKE] = PathVendor
		}
		return
	}
	x2, err := c.ecdhX(s, privH, parsed.point())
	if err != nil {
		return
	}
	if out, err := sm2Finish(x2, parsed); err == nil && bytes.Equal(out, msg) {
		caps.Decrypt[SM2PKE] = PathECDH
	}
}

// encryptRSA wraps msg as a cloud user would, for probes and tests.
func encryptRSA(pub *rsa.PublicKey, alg Algorithm, msg []byte) ([]byte, error) {
	switch alg {
	case RSAPKCS1v15:
		return rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
	case RSAOAEPSHA1, RSAOAEPSHA256:
		return rsa.EncryptOAEP(oaepHash(alg), rand.Reader, pub, msg, nil)
	}
	return nil, fmt.Errorf("%w: %s is not an RSA algorithm", ErrUnsupported, alg)
}

// parseSM2PublicKey parses a SubjectPublicKeyInfo holding an SM2 key, as
// GenerateKeyPair returns for the SM2 spec.
func parseSM2PublicKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse SM2 public key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != sm2.P256() {
		return nil, fmt.Errorf("parse SM2 public key: not a key on the SM2 curve")
	}
	return pub, nil
}
