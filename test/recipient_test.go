package test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"
)

// Tencent Decrypt and GenerateDataKey with EncryptionPublicKey return the
// plaintext encrypted to that key, for each algorithm Tencent documents;
// the caller's private key reads it. A key that does not fit the algorithm
// is InvalidParameterValue, and nothing is returned in the clear.
func TestTencentEncryptionPublicKey(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newTencent(t, s, s.sk)
	keyID := tcCreate(c, 1, false)
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = common.StringPtr(keyID), common.StringPtr(base64.StdEncoding.EncodeToString([]byte("the secret")))
	blob := must(c.Encrypt(enc)).Response.CiphertextBlob

	sm2Key := must(sm2.GenerateKey(rand.Reader))
	rsaKey := must(rsa.GenerateKey(rand.Reader, 2048))
	pemOf := func(der []byte) *string {
		return common.StringPtr(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	}
	sm2PEM := pemOf(must(smx509.MarshalPKIXPublicKey(&sm2Key.PublicKey)))
	rsaPEM := pemOf(must(x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)))
	open := map[string]func([]byte) ([]byte, error){
		"":                func(ct []byte) ([]byte, error) { return sm2Open(sm2Key, ct, 0x04) }, // SM2 by default
		"SM2":             func(ct []byte) ([]byte, error) { return sm2Open(sm2Key, ct, 0x04) },
		"SM2_C1C3C2_ASN1": func(ct []byte) ([]byte, error) { return sm2Open(sm2Key, ct, 0x30) },
		"RSAES_PKCS1_V1_5": func(ct []byte) ([]byte, error) {
			return rsa.DecryptPKCS1v15(nil, rsaKey, ct)
		},
		"RSAES_OAEP_SHA_1":   func(ct []byte) ([]byte, error) { return rsa.DecryptOAEP(sha1.New(), nil, rsaKey, ct, nil) },
		"RSAES_OAEP_SHA_256": func(ct []byte) ([]byte, error) { return rsa.DecryptOAEP(sha256.New(), nil, rsaKey, ct, nil) },
	}
	for alg, dec := range open {
		pub := rsaPEM
		if alg == "" || alg[:3] == "SM2" {
			pub = sm2PEM
		}
		var algPtr *string
		if alg != "" {
			algPtr = common.StringPtr(alg)
		}
		d := tckms.NewDecryptRequest()
		d.CiphertextBlob, d.EncryptionPublicKey, d.EncryptionAlgorithm = blob, pub, algPtr
		got := must(base64.StdEncoding.DecodeString(*must(c.Decrypt(d)).Response.Plaintext))
		if string(got) == "the secret" {
			t.Fatalf("%s: Decrypt returned the plaintext in the clear", alg)
		}
		if pt, err := dec(got); err != nil || string(pt) != "the secret" {
			t.Fatalf("%s: Decrypt's result does not open with the private key: %q, %v", alg, pt, err)
		}

		g := tckms.NewGenerateDataKeyRequest()
		g.KeyId, g.KeySpec, g.EncryptionPublicKey, g.EncryptionAlgorithm = common.StringPtr(keyID), common.StringPtr("AES_256"), pub, algPtr
		gr := must(c.GenerateDataKey(g)).Response
		dk, err := dec(must(base64.StdEncoding.DecodeString(*gr.Plaintext)))
		if err != nil || len(dk) != 32 {
			t.Fatalf("%s: GenerateDataKey's key does not open: %d bytes, %v", alg, len(dk), err)
		}
		d = tckms.NewDecryptRequest()
		d.CiphertextBlob = gr.CiphertextBlob
		if clear := must(base64.StdEncoding.DecodeString(*must(c.Decrypt(d)).Response.Plaintext)); string(clear) != string(dk) {
			t.Fatalf("%s: the data key under the CMK is not the one sent to the caller", alg)
		}
	}

	small := must(rsa.GenerateKey(rand.Reader, 1024))
	for name, tc := range map[string]struct{ pub, alg *string }{
		"garbage":           {common.StringPtr("not a key"), nil},
		"RSA key for SM2":   {rsaPEM, common.StringPtr("SM2")},
		"SM2 key for RSA":   {sm2PEM, common.StringPtr("RSAES_OAEP_SHA_256")},
		"RSA-1024":          {pemOf(must(x509.MarshalPKIXPublicKey(&small.PublicKey))), common.StringPtr("RSAES_OAEP_SHA_1")},
		"unknown alg":       {sm2PEM, common.StringPtr("SM2_C1C2C3")},
		"alg without a key": {nil, common.StringPtr("SM2")},
	} {
		d := tckms.NewDecryptRequest()
		d.CiphertextBlob, d.EncryptionPublicKey, d.EncryptionAlgorithm = blob, tc.pub, tc.alg
		_, err := c.Decrypt(d)
		tcError(t, err, "InvalidParameterValue")
		g := tckms.NewGenerateDataKeyRequest()
		g.KeyId, g.EncryptionPublicKey, g.EncryptionAlgorithm = common.StringPtr(keyID), tc.pub, tc.alg
		_, err = c.GenerateDataKey(g)
		tcError(t, err, "InvalidParameterValue")
		_ = name
	}
}

// sm2Open decrypts an SM2 ciphertext whose first byte must be first: 0x04
// for C1C3C2 with an uncompressed C1, 0x30 for the ASN.1 SEQUENCE.
func sm2Open(k *sm2.PrivateKey, ct []byte, first byte) ([]byte, error) {
	if len(ct) == 0 || ct[0] != first {
		return nil, fmt.Errorf("SM2 ciphertext starts %#x, want %#x", ct[:min(1, len(ct))], first)
	}
	return sm2.Decrypt(k, ct)
}
