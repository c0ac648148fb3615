package asymkey_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/keyport-kms/keyport/asymkey"
)

var allSpecs = []asymkey.Spec{asymkey.RSA2048, asymkey.RSA3072, asymkey.ECP256, asymkey.ECP256K, asymkey.SM2}

// openssl runs openssl, failing the test if it is missing or fails.
func openssl(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %v: %v", args, err)
	}
	return out
}

// Keys made here are read by openssl, and keys openssl makes are read
// here, as PKCS#8 and SubjectPublicKeyInfo, for every spec; each signs
// and decrypts with every scheme that fits it, and refuses the others.
func TestSpecsRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is missing")
		}
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	genArgs := map[asymkey.Spec][]string{
		asymkey.RSA2048: {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"},
		asymkey.RSA3072: {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"},
		asymkey.ECP256:  {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"},
		asymkey.ECP256K: {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"},
		asymkey.SM2:     {"-algorithm", "SM2"},
	}
	for _, spec := range allSpecs {
		t.Run(spec.String(), func(t *testing.T) {
			// Ours, read by openssl: its public half is ours.
			k, err := asymkey.Generate(spec)
			if err != nil {
				t.Fatal(err)
			}
			der, err := k.MarshalPKCS8()
			if err != nil {
				t.Fatal(err)
			}
			pub, err := k.Public().MarshalPKIX()
			if err != nil {
				t.Fatal(err)
			}
			if got := openssl(t, der, "pkey", "-inform", "DER", "-pubout", "-outform", "DER"); !bytes.Equal(got, pub) {
				t.Fatalf("openssl reads our PKCS#8 with another public key:\n%x\n%x", got, pub)
			}
			// Theirs, read here.
			file := filepath.Join(dir, spec.String()+".pem")
			openssl(t, nil, append([]string{"genpkey", "-out", file}, genArgs[spec]...)...)
			block, _ := pem.Decode(must(os.ReadFile(file)))
			theirs, err := asymkey.ParsePKCS8(block.Bytes)
			if err != nil {
				t.Fatalf("their PKCS#8: %v", err)
			}
			if theirs.Spec() != spec {
				t.Fatalf("their key reads as %s", theirs.Spec())
			}
			theirPub := openssl(t, nil, "pkey", "-in", file, "-pubout", "-outform", "DER")
			parsed, err := asymkey.ParsePKIX(theirPub)
			if err != nil || !parsed.Equal(theirs.Public()) {
				t.Fatalf("their SubjectPublicKeyInfo: %v", err)
			}
			// Our PKCS#8 reads back as the same key.
			again, err := asymkey.ParsePKCS8(der)
			if err != nil || !again.Public().Equal(k.Public()) {
				t.Fatalf("our PKCS#8 does not read back: %v", err)
			}
			digest := sha256.Sum256([]byte("signed in process"))
			for _, s := range []asymkey.Scheme{asymkey.PSS, asymkey.PKCS1, asymkey.ECDSA, asymkey.SM2DSA} {
				sig, err := k.Sign(s, digest[:])
				if !s.Fits(spec) {
					if err == nil || k.Public().Verify(s, digest[:], make([]byte, 64)) {
						t.Errorf("scheme %d signs with %s", s, spec)
					}
					continue
				}
				if err != nil || !k.Public().Verify(s, digest[:], sig) {
					t.Fatalf("scheme %d: %v", s, err)
				}
				if k.Public().Verify(s, digest[:], append(bytes.Clone(sig[:len(sig)-1]), sig[len(sig)-1]^1)) {
					t.Errorf("scheme %d: a changed signature verifies", s)
				}
			}
			for _, c := range []asymkey.Cipher{asymkey.OAEPSHA256, asymkey.OAEPSHA1, asymkey.PKCS1v15, asymkey.SM2PKE} {
				if !c.Fits(spec) {
					if _, err := k.Public().Encrypt(c, []byte("x")); err == nil {
						t.Errorf("cipher %d encrypts to %s", c, spec)
					}
					continue
				}
				msg := bytes.Repeat([]byte{7}, min(c.MaxPlaintext(spec), 300))
				ct, err := k.Public().Encrypt(c, msg)
				if err != nil {
					t.Fatal(err)
				}
				if pt, err := k.Decrypt(c, ct); err != nil || !bytes.Equal(pt, msg) {
					t.Fatalf("cipher %d: %v", c, err)
				}
				ct[len(ct)-1] ^= 1
				if _, err := k.Decrypt(c, ct); err != asymkey.ErrDecryption {
					t.Errorf("cipher %d: a changed ciphertext: %v", c, err)
				}
			}
			k.Wipe()
		})
	}
}

// SM2Digest is GB/T 32918.2's e with the default user id: an SM2DSA
// signature of it verifies as gmsm verifies a signature of the message.
func TestSM2Digest(t *testing.T) {
	k := must(asymkey.Generate(asymkey.SM2))
	msg := []byte("a message")
	e := must(k.Public().SM2Digest(msg))
	sig := must(k.Sign(asymkey.SM2DSA, e))
	point := k.Public().Point()
	pub := must(sm2.NewPublicKey(point))
	if !sm2.VerifyASN1WithSM2(pub, nil, msg, sig) {
		t.Fatal("gmsm does not verify a signature of SM2Digest as one of the message")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// ParsePEM reads the forms openssl writes: PKCS#8, and the traditional
// PKCS#1 and SEC 1 ones, on every curve.
func TestParsePEM(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		spec asymkey.Spec
		gen  []string
	}{
		{asymkey.RSA2048, []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}},
		{asymkey.ECP256, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}},
		{asymkey.ECP256K, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"}},
		{asymkey.SM2, []string{"-algorithm", "SM2"}},
	} {
		file := filepath.Join(dir, c.spec.String())
		openssl(t, nil, append([]string{"genpkey", "-out", file}, c.gen...)...)
		pub := must(asymkey.ParsePKIX(openssl(t, nil, "pkey", "-in", file, "-pubout", "-outform", "DER")))
		forms := map[string][]byte{"PKCS#8": must(os.ReadFile(file))}
		if c.spec != asymkey.SM2 { // OpenSSL writes SM2 keys as PKCS#8 only
			forms["traditional"] = openssl(t, nil, "pkey", "-in", file, "-traditional")
		}
		for form, b := range forms {
			k, err := asymkey.ParsePEM(b)
			if err != nil || k.Spec() != c.spec || !k.Public().Equal(pub) {
				t.Errorf("%s %s: %v", c.spec, form, err)
			}
		}
	}
	if _, err := asymkey.ParsePEM([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("a certificate reads as a private key")
	}
}
