package service

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/keyport-kms/keyport/hsm"
)

// FuzzParseToken: the import-token parser never panics, and what it
// accepts re-encodes to the same bytes before the MAC.
func FuzzParseToken(f *testing.F) {
	f.Add("AQ==")
	f.Add("")
	body := []byte{tokenVersion}
	body = append(body, make([]byte, tokenIDSize)...)
	body = append(append(body, 3), "key"...)
	body = append(append(body, 2), "ab"...)
	body = append(body, 2, 0, 0, 0, 0, 0, 0, 0, 1)
	f.Add(encodeForTest(append(body, make([]byte, tokenMACSize)...)))
	f.Fuzz(func(t *testing.T, s string) {
		tok, b, mac, err := parseToken(s)
		if err != nil {
			return
		}
		if len(mac) != tokenMACSize || tok.keyID == "" || tok.wrappingKey == "" || algCodes[tok.algorithm] == 0 {
			t.Fatalf("accepted a token missing fields: %+v", tok)
		}
		if b[0] != tokenVersion || len(b) != 1+tokenIDSize+2+len(tok.keyID)+len(tok.wrappingKey)+1+8 {
			t.Fatalf("token body of unexpected shape accepted: %x", b)
		}
	})
}

// FuzzParseBlob: the ciphertext-blob parser never panics, and its pieces
// tile the blob.
func FuzzParseBlob(f *testing.F) {
	h := blobHeader{cipher: cipherAES256, keyID: "k", keyVersionID: "v"}.marshal()
	f.Add(append(h, make([]byte, nonceSize+tagSize)...))
	f.Add([]byte{1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		hd, header, sealed, err := parseBlob(b)
		if err != nil {
			return
		}
		if len(header)+len(sealed) != len(b) || len(sealed) < nonceSize+tagSize || hd.keyID == "" || hd.keyVersionID == "" {
			t.Fatalf("inconsistent parse of %x", b)
		}
		if !bytes.Equal(hd.marshal(), header) {
			t.Fatalf("header does not round-trip: %x", b)
		}
	})
}

// FuzzCanonicalContext: the same pairs in any order encode the same, and
// different pairs never collide (the encoding is length-prefixed).
func FuzzCanonicalContext(f *testing.F) {
	f.Add("a", "1", "b", "2")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if k1 == k2 {
			return
		}
		x := canonicalContext(map[string]string{k1: v1, k2: v2})
		y := canonicalContext(map[string]string{k2: v2, k1: v1})
		if !bytes.Equal(x, y) {
			t.Fatal("order changed the encoding")
		}
		if bytes.Equal(x, canonicalContext(map[string]string{k1 + v1: "", k2: v2})) && v1 != "" {
			t.Fatal("two contexts encode alike")
		}
	})
}

func encodeForTest(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzRecipient: a caller's EncryptionPublicKey and EncryptionAlgorithm
// never panic the parser; what it accepts encrypts, and anything refused is
// KindInvalidRecipientKey.
func FuzzRecipient(f *testing.F) {
	f.Add("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE\n-----END PUBLIC KEY-----\n", "SM2")
	f.Add("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "RSAES_OAEP_SHA_256")
	f.Add("", "SM2")
	f.Fuzz(func(t *testing.T, key, alg string) {
		seal, err := (&Recipient{PublicKey: key, Algorithm: alg}).sealer()
		if err != nil {
			if KindOf(err) != KindInvalidRecipientKey {
				t.Fatalf("refused as %v: %v", KindOf(err), err)
			}
			return
		}
		if seal != nil {
			if _, err := sealFor(seal, []byte("0123456789abcdef")); err != nil {
				t.Fatalf("accepted a key that cannot encrypt: %v", err)
			}
		}
	})
}

// FuzzPrivateEnvelope: the parts of an asymmetric import that read the
// caller's bytes once the token has decrypted the ephemeral key — the
// head's length, the ECB bodies, PKCS#7 padding, RFC 5649, PKCS#8 and SM2
// scalars — never panic and return a key or ErrBadCiphertext.
func FuzzPrivateEnvelope(f *testing.F) {
	f.Add(byte(0), []byte{0x30, 0x03, 0x02, 0x01, 0x01}, make([]byte, 48))
	f.Add(byte(1), []byte{0x04}, make([]byte, 32))
	f.Add(byte(2), []byte{}, make([]byte, 40))
	algs := []WrappingAlgorithm{AlgRSAOAEPAES256ECB, AlgSM2SM4ECB, AlgRSAAESKeyWrapSHA256}
	f.Fuzz(func(t *testing.T, which byte, head, body []byte) {
		alg := algs[int(which)%len(algs)]
		if n := envelopeHeadLen(alg, WrappingRSA2048, append(head, body...)); n < 0 {
			t.Fatalf("head length %d", n)
		}
		kek := bytes.Repeat([]byte{7}, 32)
		if alg == AlgSM2SM4ECB {
			kek = kek[:sm4KeySize]
		}
		k, err := openEnvelopeBody(alg, kek, body)
		if err != nil && err != hsm.ErrBadCiphertext {
			t.Fatalf("%s: %v", alg, err)
		}
		if err == nil {
			k.Wipe()
		}
	})
}
