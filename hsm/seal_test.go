package hsm_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
)

// Every sealing scheme round-trips, refuses any altered byte or other
// additional data with ErrBadCiphertext, and opens what the others sealed
// on the same token; the CTR scheme is exactly AES-CTR (checked against Go
// with a key of known value), the CBC scheme AES-CBC with PKCS#7.
func TestSealSchemes(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	if h.Capabilities().Seal != hsm.SealGCM || !h.Capabilities().HMAC || !h.Capabilities().Random {
		t.Fatalf("SoftHSM2 seals with AES-GCM and has HMAC and a generator: %+v", h.Capabilities())
	}
	mac, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "seal-mac", Kind: hsm.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	// An AES key whose value the test knows, to check the schemes' output.
	value := make([]byte, 32)
	_, _ = rand.Read(value)
	known := hsm.KeyID("6b6e6f776e2d616573")
	err = hsm.Raw(ctx, h, "", func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, _ pkcs11.ObjectHandle) error {
		_, err := mod.CreateObject(s, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, []byte("known-aes")), pkcs11.NewAttribute(pkcs11.CKA_VALUE, value)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	key := hsm.SealKey{Cipher: known, MAC: mac}
	block, _ := aes.NewCipher(value)
	sealed := map[hsm.SealScheme][]byte{}
	for _, scheme := range []hsm.SealScheme{hsm.SealGCM, hsm.SealCBCHMAC, hsm.SealCTRHMAC} {
		hsm.SetSealScheme(h, scheme)
		for _, n := range []int{0, 1, 16, 33} {
			msg := bytes.Repeat([]byte{byte(n)}, n)
			out, err := h.Seal(ctx, key, msg, []byte("aad"))
			if err != nil {
				t.Fatalf("%s seal %d bytes: %v", scheme, n, err)
			}
			if got, err := h.Open(ctx, key, out, []byte("aad")); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%s open %d bytes: %q, %v", scheme, n, got, err)
			}
			sealed[scheme] = out
			if scheme == hsm.SealGCM {
				continue
			}
			if out[0] != 'K' || out[1] != 'P' || out[2] != byte(scheme) || len(out) != 3+16+len(ciphertextOf(scheme, n))+32 {
				t.Fatalf("%s: %d bytes for %d, header %x", scheme, len(out), n, out[:3])
			}
			iv, ct := out[3:19], out[19:len(out)-32]
			pt := make([]byte, len(ct))
			if scheme == hsm.SealCTRHMAC {
				cipher.NewCTR(block, iv).XORKeyStream(pt, ct)
			} else {
				cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
				pt = pt[:len(pt)-int(pt[len(pt)-1])]
			}
			if !bytes.Equal(pt, msg) {
				t.Fatalf("%s is not the standard mode: %x, want %x", scheme, pt, msg)
			}
		}
		out := sealed[scheme]
		for i := range out {
			bad := bytes.Clone(out)
			bad[i] ^= 1
			if _, err := h.Open(ctx, key, bad, []byte("aad")); !errors.Is(err, hsm.ErrBadCiphertext) {
				t.Fatalf("%s: byte %d altered: %v", scheme, i, err)
			}
		}
		for _, bad := range [][]byte{nil, out[:len(out)-1], append(bytes.Clone(out), 0)} {
			if _, err := h.Open(ctx, key, bad, []byte("aad")); !errors.Is(err, hsm.ErrBadCiphertext) {
				t.Fatalf("%s: %d bytes: %v", scheme, len(bad), err)
			}
		}
		if _, err := h.Open(ctx, key, out, []byte("other")); !errors.Is(err, hsm.ErrBadCiphertext) {
			t.Fatalf("%s: other aad: %v", scheme, err)
		}
	}
	// Whatever the scheme now, what was sealed before opens.
	for _, now := range []hsm.SealScheme{hsm.SealGCM, hsm.SealCBCHMAC} {
		hsm.SetSealScheme(h, now)
		for scheme, out := range sealed {
			if _, err := h.Open(ctx, key, out, []byte("aad")); err != nil {
				t.Fatalf("scheme %s now, %s-sealed data: %v", now, scheme, err)
			}
		}
	}
}

func ciphertextOf(scheme hsm.SealScheme, n int) []byte {
	if scheme == hsm.SealCBCHMAC {
		return make([]byte, (n/16+1)*16)
	}
	return make([]byte, n)
}
