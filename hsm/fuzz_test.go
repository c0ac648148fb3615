package hsm_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"math/big"
	"sync"
	"testing"

	"github.com/emmansun/gmsm/sm2"

	"github.com/keyport-kms/keyport/hsm"
)

var (
	fuzzKeyOnce sync.Once
	fuzzKey     *rsa.PrivateKey
)

// testRSAKey is a software key standing in for the token's raw RSA.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	fuzzKeyOnce.Do(func() {
		var err error
		if fuzzKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return fuzzKey
}

// rawDecrypt is c^d mod n, left-padded: what CKM_RSA_X_509 returns.
func rawDecrypt(k *rsa.PrivateKey, ct []byte) []byte {
	m := new(big.Int).Exp(new(big.Int).SetBytes(ct), k.D, k.N)
	return m.FillBytes(make([]byte, k.Size()))
}

func TestOAEPDecodeMatchesGo(t *testing.T) {
	k := testRSAKey(t)
	for _, size := range []int{0, 1, 16, 32, 190} {
		msg := make([]byte, size)
		_, _ = rand.Read(msg)
		for name, h := range map[string]func() []byte{
			"sha1": func() []byte { ct, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &k.PublicKey, msg, nil); return ct },
			"sha256": func() []byte {
				ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, msg, nil)
				return ct
			},
		} {
			ct := h()
			if ct == nil {
				continue // message too long for SHA-256 OAEP
			}
			hf := sha1.New()
			if name == "sha256" {
				hf = sha256.New()
			}
			got, err := hsm.OAEPDecode(hf, rawDecrypt(k, ct), nil)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%s %d bytes: got %x, %v", name, size, got, err)
			}
		}
	}
	// A label, the wrong hash and a PKCS#1 v1.5 block must all be refused.
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, []byte("m"), []byte("label"))
	if _, err := hsm.OAEPDecode(sha256.New(), rawDecrypt(k, ct), nil); err == nil {
		t.Fatal("a labelled ciphertext decoded without its label")
	}
	ct, _ = rsa.EncryptOAEP(sha1.New(), rand.Reader, &k.PublicKey, []byte("m"), nil)
	if _, err := hsm.OAEPDecode(sha256.New(), rawDecrypt(k, ct), nil); err == nil {
		t.Fatal("SHA-1 OAEP decoded as SHA-256")
	}
	ct, _ = rsa.EncryptPKCS1v15(rand.Reader, &k.PublicKey, []byte("m"))
	if _, err := hsm.OAEPDecode(sha256.New(), rawDecrypt(k, ct), nil); err == nil {
		t.Fatal("PKCS#1 v1.5 decoded as OAEP")
	}
}

// FuzzOAEPDecode: any encoded block either fails or yields a message that
// fits inside it; the decoder never panics. Valid blocks seed the corpus.
func FuzzOAEPDecode(f *testing.F) {
	k := testRSAKey(f)
	for _, n := range []int{0, 16, 32} {
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, make([]byte, n), nil)
		f.Add(rawDecrypt(k, ct))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 66))
	f.Fuzz(func(t *testing.T, em []byte) {
		in := append([]byte{}, em...)
		msg, err := hsm.OAEPDecode(sha256.New(), in, nil)
		if err == nil && len(msg) > len(em)-2*sha256.Size-2 {
			t.Fatalf("message of %d bytes from a %d-byte block", len(msg), len(em))
		}
	})
}

// FuzzParseSM2Ciphertext: the parser never panics, and whatever it accepts
// has a C1 on the curve (checked inside) and a non-empty C2.
func FuzzParseSM2Ciphertext(f *testing.F) {
	priv, _ := sm2.GenerateKey(rand.Reader)
	for _, n := range []int{1, 16, 32} {
		plain, _ := sm2.Encrypt(rand.Reader, &priv.PublicKey, make([]byte, n), nil)
		f.Add(plain)
		der, _ := sm2.EncryptASN1(rand.Reader, &priv.PublicKey, make([]byte, n))
		f.Add(der)
	}
	f.Add([]byte{0x04})
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = hsm.ParseSM2(b)
	})
}

func TestParseSM2Ciphertext(t *testing.T) {
	priv, _ := sm2.GenerateKey(rand.Reader)
	msg := []byte("0123456789abcdef0123456789abcdef")
	plain, _ := sm2.Encrypt(rand.Reader, &priv.PublicKey, msg, nil)
	der, _ := sm2.EncryptASN1(rand.Reader, &priv.PublicKey, msg)
	offCurve := append([]byte{}, plain...)
	offCurve[10] ^= 1
	for name, tc := range map[string]struct {
		in []byte
		ok bool
	}{
		"C1C3C2":         {plain, true},
		"ASN.1":          {der, true},
		"empty":          {nil, false},
		"no C2":          {plain[:97], false},
		"C1 off curve":   {offCurve, false},
		"compressed C1":  {append([]byte{0x02}, plain[1:]...), false},
		"ASN.1 trailing": {append(append([]byte{}, der...), 0), false},
		"ASN.1 cut":      {der[:len(der)-1], false},
		"too long C2":    {append(append([]byte{}, plain...), make([]byte, 1024)...), false},
	} {
		if err := hsm.ParseSM2(tc.in); (err == nil) != tc.ok {
			t.Errorf("%s: err=%v, want ok=%v", name, err, tc.ok)
		}
	}
}
