package service

import (
	"bytes"
	"encoding/base64"
	"testing"
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
