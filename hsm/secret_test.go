package hsm_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
)

func TestSecretKeyCreatedOnce(t *testing.T) {
	h, tok := openToken(t)
	ctx := ctxT(t)
	a, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "keyport-master-seal", Kind: hsm.AES256})
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "keyport-master-seal", Kind: hsm.AES256})
	if err != nil || a != b {
		t.Fatalf("second call: %s, %v; want %s", b, err, a)
	}
	m, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "keyport-master-mac", Kind: hsm.HMACSHA256})
	if err != nil || m == a {
		t.Fatalf("mac key: %s, %v", m, err)
	}
	sealed, err := h.Seal(ctx, hsm.SealKey{Cipher: a}, []byte("hello"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	mac1, err := h.MAC(ctx, m, []byte("data"))
	if err != nil || len(mac1) != 32 {
		t.Fatalf("mac: %x, %v", mac1, err)
	}
	h.Close()

	// A new process finds the same keys and can still open and MAC.
	h2, err := hsm.Open(ctx, configFor(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if again, err := h2.SecretKey(ctx, hsm.SecretKeyRequest{Label: "keyport-master-seal", Kind: hsm.AES256}); err != nil || again != a {
		t.Fatalf("after reopen: %s, %v; want %s", again, err, a)
	}
	if pt, err := h2.Open(ctx, hsm.SealKey{Cipher: a}, sealed, []byte("aad")); err != nil || string(pt) != "hello" {
		t.Fatalf("open after reopen: %q, %v", pt, err)
	}
	if mac2, err := h2.MAC(ctx, m, []byte("data")); err != nil || !bytes.Equal(mac1, mac2) {
		t.Fatalf("mac after reopen: %x, %v; want %x", mac2, err, mac1)
	}
}

func TestSealOpenRejects(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	k, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "seal", Kind: hsm.AES256})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := h.Seal(ctx, hsm.SealKey{Cipher: k}, []byte("secret"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ sealed, aad []byte }{
		"wrong aad":  {sealed, []byte("other")},
		"no aad":     {sealed, nil},
		"tag":        {flip(sealed, len(sealed)-1), []byte("ctx")},
		"nonce":      {flip(sealed, 0), []byte("ctx")},
		"body":       {flip(sealed, 13), []byte("ctx")},
		"truncated":  {sealed[:20], []byte("ctx")},
		"empty":      {nil, []byte("ctx")},
		"extra byte": {append(append([]byte{}, sealed...), 1), []byte("ctx")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := h.Open(ctx, hsm.SealKey{Cipher: k}, tc.sealed, tc.aad); err != hsm.ErrBadCiphertext {
				t.Fatalf("got %v, want ErrBadCiphertext", err)
			}
		})
	}
	mac, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "mac", Kind: hsm.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Seal(ctx, hsm.SealKey{Cipher: mac}, []byte("x"), nil); !errors.Is(err, hsm.ErrUnsupported) {
		t.Fatalf("seal with an HMAC key: %v, want ErrUnsupported", err)
	}
}

// Material imported through every algorithm becomes an AES key in the token
// that seals exactly as Go's AES-GCM does with the same material, and whose
// value cannot be read.
func TestImportAESEveryAlgorithm(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	pairs := generatePairs(t, h)
	for _, alg := range hsm.Algorithms() {
		for _, size := range []int{32, 16} {
			t.Run(fmt.Sprintf("%s/%d", alg, size), func(t *testing.T) {
				kp := pairs[alg.Spec()]
				material := make([]byte, size)
				_, _ = rand.Read(material)
				imp, err := h.ImportAES(ctx, hsm.ImportRequest{
					WrappingKey: kp.ID, Algorithm: alg, Ciphertext: wrap(t, kp, alg, material), Size: size, Label: "material",
				})
				if err != nil {
					t.Fatal(err)
				}
				id := imp.ID
				block, _ := aes.NewCipher(material)
				kcv := make([]byte, 16)
				block.Encrypt(kcv, kcv)
				if !bytes.Equal(imp.CheckValue, kcv) {
					t.Fatalf("check value %x, want AES(material, 0) = %x", imp.CheckValue, kcv)
				}
				sealed, err := h.Seal(ctx, hsm.SealKey{Cipher: id}, []byte("plaintext"), []byte("aad"))
				if err != nil {
					t.Fatal(err)
				}
				gcm, _ := cipher.NewGCM(block)
				pt, err := gcm.Open(nil, sealed[:12], sealed[12:], []byte("aad"))
				if err != nil || string(pt) != "plaintext" {
					t.Fatalf("Go cannot open what the imported key sealed: %v", err)
				}
				assertUnreadable(t, h, id, pkcs11.CKA_VALUE)

				// Wrong length: refused, and nothing left on the token.
				before := countObjects(t, h)
				_, err = h.ImportAES(ctx, hsm.ImportRequest{
					WrappingKey: kp.ID, Algorithm: alg, Ciphertext: wrap(t, kp, alg, make([]byte, 20)), Size: size, Label: "bad",
				})
				if err != hsm.ErrBadCiphertext {
					t.Fatalf("20-byte material: %v, want ErrBadCiphertext", err)
				}
				if after := countObjects(t, h); after != before {
					t.Fatalf("objects %d → %d after a refused import", before, after)
				}
				if _, err := h.ImportAES(ctx, hsm.ImportRequest{
					WrappingKey: kp.ID, Algorithm: alg, Ciphertext: flip(wrap(t, kp, alg, material), 5), Size: size, Label: "bad",
				}); err != hsm.ErrBadCiphertext {
					t.Fatalf("tampered: %v, want ErrBadCiphertext", err)
				}
			})
		}
	}
}

func countObjects(t *testing.T, h *hsm.HSM) int {
	t.Helper()
	objs, err := h.Objects(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// assertUnreadable checks that reading attr of key id fails as sensitive.
func assertUnreadable(t *testing.T, h *hsm.HSM, id hsm.KeyID, attr uint) {
	t.Helper()
	err := hsm.Raw(ctxT(t), h, id, func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
		attrs, err := mod.GetAttributeValue(s, key, []*pkcs11.Attribute{pkcs11.NewAttribute(attr, nil)})
		if err == nil {
			return fmt.Errorf("read attribute 0x%x of %s: got %d bytes, want an error", attr, id, len(attrs[0].Value))
		}
		var ckr pkcs11.Error
		if !errors.As(err, &ckr) || (ckr != pkcs11.CKR_ATTRIBUTE_SENSITIVE && ckr != pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) {
			return fmt.Errorf("read attribute 0x%x of %s: %v, want CKR_ATTRIBUTE_SENSITIVE", attr, id, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
