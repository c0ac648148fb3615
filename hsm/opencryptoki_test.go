package hsm_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/rand"
	"testing"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/opencryptoki"
)

// openCryptoki's soft token, a second implementation: the probe finds its
// paths (native OAEP-SHA-256, in-token unwrap, no EC, no AES-GCM), material
// unwrapped there is made sensitive and non-extractable although the token
// ignores the template, and sealing works by CBC + HMAC.
func TestOnOpenCryptoki(t *testing.T) {
	if !opencryptoki.OwnProcess(t) {
		return
	}
	tok := opencryptoki.New(t)
	h, err := hsm.Open(context.Background(), configFor(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := ctxT(t)
	caps := h.Capabilities()
	for _, alg := range []hsm.Algorithm{hsm.RSAPKCS1v15, hsm.RSAOAEPSHA1, hsm.RSAOAEPSHA256} {
		if caps.Decrypt[alg] != hsm.PathNative || !caps.Unwrap[alg] {
			t.Errorf("%s: decrypt %s, unwrap %v; want native and in-token unwrap", alg, caps.Decrypt[alg], caps.Unwrap[alg])
		}
	}
	if caps.Decrypt[hsm.SM2PKE] != hsm.PathNone || caps.SM2Keys || caps.Seal != hsm.SealCBCHMAC || !caps.HMAC || caps.CopyToToken || caps.SerialObjectWrites {
		t.Errorf("capabilities: %+v", caps)
	}
	kp, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []hsm.Algorithm{hsm.RSAPKCS1v15, hsm.RSAOAEPSHA1, hsm.RSAOAEPSHA256} {
		msg := make([]byte, 32)
		_, _ = rand.Read(msg)
		if got, err := h.Decrypt(ctx, kp.ID, alg, wrap(t, kp, alg, msg)); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s decrypt: %v", alg, err)
		}
		imp, err := h.ImportAES(ctx, hsm.ImportRequest{WrappingKey: kp.ID, Algorithm: alg, Ciphertext: wrap(t, kp, alg, msg), Size: 32, Label: "keyport-test-material"})
		if err != nil {
			t.Fatalf("%s import: %v", alg, err)
		}
		block, _ := aes.NewCipher(msg)
		kcv := make([]byte, 16)
		block.Encrypt(kcv, kcv)
		if !bytes.Equal(imp.CheckValue, kcv) {
			t.Fatalf("%s: check value %x, want %x", alg, imp.CheckValue, kcv)
		}
		short := make([]byte, 20)
		if _, err := h.ImportAES(ctx, hsm.ImportRequest{WrappingKey: kp.ID, Algorithm: alg, Ciphertext: wrap(t, kp, alg, short), Size: 32, Label: "x"}); err != hsm.ErrBadCiphertext {
			t.Fatalf("%s: 20 bytes imported as a 32-byte key: %v", alg, err)
		}
	}
	objs, err := h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	materials := 0
	for _, o := range objs {
		if o.Label == "keyport-test-material" {
			materials++
			if !*o.Sensitive || *o.Extractable {
				t.Errorf("unwrapped material %s: sensitive %v, extractable %v", o.ID, *o.Sensitive, *o.Extractable)
			}
		}
	}
	if materials != 3 {
		t.Fatalf("%d material objects, want 3 (and no object left by the refused import)", materials)
	}
	seal, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "seal", Kind: hsm.AES256})
	if err != nil {
		t.Fatal(err)
	}
	mac, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "mac", Kind: hsm.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	key := hsm.SealKey{Cipher: seal, MAC: mac}
	sealed, err := h.Seal(ctx, key, []byte("access key secret"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.Open(ctx, key, sealed, []byte("aad")); err != nil || string(got) != "access key secret" {
		t.Fatalf("open: %q, %v", got, err)
	}
	sealed[len(sealed)/2] ^= 1
	if _, err := h.Open(ctx, key, sealed, []byte("aad")); err != hsm.ErrBadCiphertext {
		t.Fatalf("tampered: %v", err)
	}
}
