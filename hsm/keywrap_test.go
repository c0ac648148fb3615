package hsm_test

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"hash"
	"testing"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/keywrap"
)

// rsaAESKeyWrap wraps material as RSA_AES_KEY_WRAP_SHA_* does: an
// ephemeral AES-256 key under RSA-OAEP, then the material under it.
func rsaAESKeyWrap(t testing.TB, publicDER []byte, h hash.Hash, material []byte) []byte {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(publicDER)
	if err != nil {
		t.Fatal(err)
	}
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	head, err := rsa.EncryptOAEP(h, rand.Reader, pub.(*rsa.PublicKey), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := keywrap.Wrap(kek, material)
	if err != nil {
		t.Fatal(err)
	}
	return append(head, body...)
}

// RSA-AES-key-wrapped material becomes an AES key object with the
// material's check value, for each wrapping spec and OAEP hash, whether
// the token unwraps RFC 5649 (SoftHSM2 does) or this process does; any
// change to either half of the envelope is ErrBadCiphertext.
func TestImportKeyWrapped(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	if h.Capabilities().KeyWrapPad == 0 {
		t.Fatal("the probe finds no RFC 5649 unwrap on SoftHSM2, which has CKM_AES_KEY_WRAP_PAD")
	}
	for _, inToken := range []bool{true, false} {
		if !inToken {
			hsm.WithoutKeyWrapPad(h)
		}
		for _, spec := range []hsm.PairSpec{hsm.RSA2048, hsm.RSA3072} {
			kp, err := h.GenerateKeyPair(ctx, spec, "keyport-test-kwp", "")
			if err != nil {
				t.Fatal(err)
			}
			for alg, hf := range map[hsm.Algorithm]func() hash.Hash{hsm.RSAOAEPSHA1: sha1.New, hsm.RSAOAEPSHA256: sha256.New} {
				material := make([]byte, 32)
				_, _ = rand.Read(material)
				want := make([]byte, 16)
				block, _ := aes.NewCipher(material)
				block.Encrypt(want, want)
				ct := rsaAESKeyWrap(t, kp.PublicDER, hf(), material)
				req := hsm.ImportRequest{WrappingKey: kp.ID, Algorithm: alg, Envelope: hsm.EnvelopeAESKeyWrapPad,
					Ciphertext: ct, Size: 32, Label: "keyport-test-kwp"}
				req.KeyBytes = map[hsm.PairSpec]int{hsm.RSA2048: 256, hsm.RSA3072: 384}[spec]
				imp, err := h.ImportAES(ctx, req)
				if err != nil {
					t.Fatalf("in token %v, %s %s: %v", inToken, spec, alg, err)
				}
				if !bytes.Equal(imp.CheckValue, want) {
					t.Fatalf("in token %v, %s %s: check value %x, want %x", inToken, spec, alg, imp.CheckValue, want)
				}
				_ = h.Delete(ctx, imp.ID)
				for _, i := range []int{10, req.KeyBytes + 3, len(ct) - 1} {
					bad := bytes.Clone(ct)
					bad[i] ^= 1
					req.Ciphertext = bad
					if _, err := h.ImportAES(ctx, req); !errors.Is(err, hsm.ErrBadCiphertext) {
						t.Errorf("in token %v, %s %s, byte %d changed: %v", inToken, spec, alg, i, err)
					}
				}
				req.Ciphertext, req.Size = ct, 16
				if _, err := h.ImportAES(ctx, req); !errors.Is(err, hsm.ErrBadCiphertext) {
					t.Errorf("in token %v, %s %s: 32 bytes of material as 16: %v", inToken, spec, alg, err)
				}
			}
			_ = h.Delete(ctx, kp.ID)
		}
	}
}
