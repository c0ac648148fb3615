package test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/hsm"
)

// Every refusal a BYOK user can meet, through the official SDK, each with its
// code and HTTP status. Afterwards every private key on the token is
// sensitive and never extractable, and each public key the API handed out
// belongs to a private key there.
func TestAliyunRefusals(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--import-token-ttl", "3s")
	c := newV1(t, s, s.sk)
	var handedOut [][]byte
	params := func(keyID, spec, alg string) *kms.GetParametersForImportResponse {
		gp := kms.CreateGetParametersForImportRequest()
		c.prep(gp.RpcRequest)
		gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = keyID, spec, alg
		p, err := c.c.GetParametersForImport(gp)
		if err == nil {
			handedOut = append(handedOut, must(base64.StdEncoding.DecodeString(p.PublicKey)))
		}
		return p
	}
	paramsErr := func(keyID, spec, alg string) error {
		gp := kms.CreateGetParametersForImportRequest()
		c.prep(gp.RpcRequest)
		gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = keyID, spec, alg
		_, err := c.c.GetParametersForImport(gp)
		return err
	}
	importErr := func(keyID string, p *kms.GetParametersForImportResponse, wrapped []byte) error {
		im := kms.CreateImportKeyMaterialRequest()
		c.prep(im.RpcRequest)
		im.KeyId, im.ImportToken, im.EncryptedKeyMaterial = keyID, p.ImportToken, base64.StdEncoding.EncodeToString(wrapped)
		_, err := c.c.ImportKeyMaterial(im)
		return err
	}
	createKey := func(origin, level string) string {
		ck := kms.CreateCreateKeyRequest()
		c.prep(ck.RpcRequest)
		ck.Origin, ck.ProtectionLevel = origin, level
		return must(c.c.CreateKey(ck)).KeyMetadata.KeyId
	}
	software, hsmKey, kmsKey := createKey("EXTERNAL", "SOFTWARE"), createKey("EXTERNAL", "HSM"), createKey("", "")
	material := bytes.Repeat([]byte{5}, 32)

	serverError(t, paramsErr(kmsKey, "RSA_2048", "RSAES_OAEP_SHA_256"), 400, "Unsupported.Origin")
	serverError(t, paramsErr(software, "EC_SM2", "SM2PKE"), 400, "Unsupported.ProtectionLevel")
	serverError(t, paramsErr(hsmKey, "RSA_2048", "SM2PKE"), 400, "InvalidParameter")
	serverError(t, paramsErr(hsmKey, "EC_SM2", "RSAES_OAEP_SHA_1"), 400, "InvalidParameter")
	serverError(t, paramsErr("00000000-0000-4000-8000-000000000000", "RSA_2048", "RSAES_OAEP_SHA_1"), 404, "Forbidden.KeyNotFound")

	pSoft := params(software, "RSA_2048", "RSAES_OAEP_SHA_256")
	pHSM := params(hsmKey, "EC_SM2", "SM2PKE")
	pubSoft := must(base64.StdEncoding.DecodeString(pSoft.PublicKey))
	serverError(t, importErr(software, pHSM, must(byok.Wrap(pubSoft, "RSAES_OAEP_SHA_256", material))), 400, "InvalidImportToken")
	serverError(t, importErr(software, pSoft, []byte("garbage garbage garbage")), 400, "InvalidKeyMaterial")
	serverError(t, importErr(software, pSoft, must(byok.Wrap(pubSoft, "RSAES_OAEP_SHA_256", material[:20]))), 400, "InvalidKeyMaterial")
	if err := importErr(software, pSoft, must(byok.Wrap(pubSoft, "RSAES_OAEP_SHA_256", material))); err != nil {
		t.Fatal(err)
	}
	other := bytes.Repeat([]byte{6}, 32)
	serverError(t, importErr(software, pSoft, must(byok.Wrap(pubSoft, "RSAES_OAEP_SHA_256", other))), 400, "InvalidKeyMaterial")

	// Encryption context binds; state rules answer 409.
	enc := kms.CreateEncryptRequest()
	c.prep(enc.RpcRequest)
	enc.KeyId, enc.Plaintext, enc.EncryptionContext = software, base64.StdEncoding.EncodeToString([]byte("x")), `{"a":"1"}`
	ct := must(c.c.Encrypt(enc))
	dec := kms.CreateDecryptRequest()
	c.prep(dec.RpcRequest)
	dec.CiphertextBlob, dec.EncryptionContext = ct.CiphertextBlob, `{"a":"2"}`
	_, err := c.c.Decrypt(dec)
	serverError(t, err, 400, "InvalidParameter")
	dis := kms.CreateDisableKeyRequest()
	c.prep(dis.RpcRequest)
	dis.KeyId = software
	must(c.c.DisableKey(dis))
	_, err = c.c.Encrypt(enc)
	serverError(t, err, 409, "Rejected.Disabled")
	enc.KeyId = hsmKey
	_, err = c.c.Encrypt(enc)
	serverError(t, err, 409, "Rejected.PendingImport")

	// A token past its 3-second life.
	time.Sleep(3100 * time.Millisecond)
	pubHSM := must(base64.StdEncoding.DecodeString(pHSM.PublicKey))
	serverError(t, importErr(hsmKey, pHSM, must(byok.Wrap(pubHSM, "SM2PKE", material))), 400, "ExpiredImportToken")

	// Credentials.
	bad := newV1(t, s, "not-"+s.sk)
	lk := kms.CreateListKeysRequest()
	bad.prep(lk.RpcRequest)
	_, err = bad.c.ListKeys(lk)
	serverError(t, err, 400, "IncompleteSignature")
	dk := kms.CreateDescribeKeyRequest()
	c.prep(dk.RpcRequest)
	_, err = c.c.DescribeKey(dk)
	serverError(t, err, 400, "MissingParameter")

	// The token, seen from outside once the server has stopped.
	s.stop(t)
	r := keyport(t, s.env, "hsm", "objects", "--json")
	var objs []hsm.Object
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil {
		t.Fatalf("%v\n%s", err, r.stderr)
	}
	privateIDs := map[string]bool{}
	for _, o := range objs {
		if o.Class == "private-key" {
			if !*o.Sensitive || *o.Extractable || !*o.NeverExtractable {
				t.Errorf("private key %s is not sensitive and never extractable", o.ID)
			}
			privateIDs[o.ID] = true
		}
	}
	for i, pub := range handedOut {
		found := false
		for _, o := range objs {
			if o.Class == "public-key" && bytes.Equal(o.PublicKey, pub) && privateIDs[o.ID] {
				found = true
			}
		}
		if !found {
			t.Errorf("public key %d handed out by the API has no private key on the token", i)
		}
	}
	if len(handedOut) != 2 {
		t.Fatalf("%d public keys handed out, want 2", len(handedOut))
	}
}
