package test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client/byok"
)

// TestRSAAESKeyWrapWithOpenSSL: material wrapped as AWS KMS's import guide
// wraps it, with openssl alone (an ephemeral AES-256 key under RSA-OAEP,
// the material under it with id-aes256-wrap-pad), to RSA_2048, RSA_3072 and
// RSA_4096 wrapping keys, imports through both SDKs at both levels and
// decrypts to what openssl wrapped.
func TestRSAAESKeyWrapWithOpenSSL(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	v := newV1(t, s, s.sk)
	tc := newTencent(t, s, s.sk)
	dir := t.TempDir()
	openssl := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		return out
	}
	// wrap builds the envelope from a DER public key, as a shell script would.
	wrap := func(publicDER []byte, md string, material []byte) []byte {
		t.Helper()
		pubFile, keyFile, matFile := filepath.Join(dir, "pub.der"), filepath.Join(dir, "aes.key"), filepath.Join(dir, "material")
		must(0, os.WriteFile(pubFile, publicDER, 0o600))
		must(0, os.WriteFile(matFile, material, 0o600))
		openssl("rand", "-out", keyFile, "32")
		head := openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pubFile, "-in", keyFile,
			"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
		kek := must(os.ReadFile(keyFile))
		body := openssl("enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(kek), "-iv", "A65959A6", "-in", matFile)
		return append(head, body...)
	}
	cases := []struct{ spec, alg, md, level string }{
		{"RSA_2048", "RSA_AES_KEY_WRAP_SHA_1", "sha1", "HSM"},
		{"RSA_3072", "RSA_AES_KEY_WRAP_SHA_256", "sha256", "HSM"},
		{"RSA_4096", "RSA_AES_KEY_WRAP_SHA_256", "sha256", "SOFTWARE"},
		{"RSA_3072", "RSAES_OAEP_SHA_256", "", "SOFTWARE"},
	}
	for _, c := range cases {
		ck := kms.CreateCreateKeyRequest()
		v.prep(ck.RpcRequest)
		ck.Origin, ck.ProtectionLevel = "EXTERNAL", c.level
		id := must(v.c.CreateKey(ck)).KeyMetadata.KeyId
		material := make([]byte, 32)
		_, _ = rand.Read(material)
		gp := kms.CreateGetParametersForImportRequest()
		v.prep(gp.RpcRequest)
		gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = id, c.spec, c.alg
		params := must(v.c.GetParametersForImport(gp))
		pub := must(base64.StdEncoding.DecodeString(params.PublicKey))
		var wrapped []byte
		if c.md != "" {
			wrapped = wrap(pub, c.md, material)
		} else {
			pubFile, matFile := filepath.Join(dir, "pub.der"), filepath.Join(dir, "material")
			must(0, os.WriteFile(pubFile, pub, 0o600))
			must(0, os.WriteFile(matFile, material, 0o600))
			wrapped = openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pubFile, "-in", matFile,
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
		}
		im := kms.CreateImportKeyMaterialRequest()
		v.prep(im.RpcRequest)
		im.KeyId, im.ImportToken, im.EncryptedKeyMaterial = id, params.ImportToken, base64.StdEncoding.EncodeToString(wrapped)
		must(v.c.ImportKeyMaterial(im))
		enc := kms.CreateEncryptRequest()
		v.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = id, base64.StdEncoding.EncodeToString([]byte("wrapped by openssl"))
		must(v.c.Encrypt(enc))
		// The key took what openssl wrapped: the same material, wrapped by
		// Go, imports again (a key accepts only its own material).
		gp.WrappingKeySpec, gp.WrappingAlgorithm = "RSA_2048", "RSAES_OAEP_SHA_256"
		again := must(v.c.GetParametersForImport(gp))
		im.ImportToken = again.ImportToken
		im.EncryptedKeyMaterial = base64.StdEncoding.EncodeToString(must(byok.Wrap(must(base64.StdEncoding.DecodeString(again.PublicKey)), "RSAES_OAEP_SHA_256", material)))
		if _, err := v.c.ImportKeyMaterial(im); err != nil {
			t.Fatalf("%s %s %s: the key's material is not what openssl wrapped: %v", c.spec, c.alg, c.level, err)
		}
	}
	// Tencent Cloud's SDK takes the same specs and algorithms.
	keyID := tcCreate(tc, 2, true)
	gp := tckms.NewGetParametersForImportRequest()
	gp.KeyId, gp.WrappingAlgorithm, gp.WrappingKeySpec = common.StringPtr(keyID), common.StringPtr("RSA_AES_KEY_WRAP_SHA_256"), common.StringPtr("RSA_3072")
	p := must(tc.GetParametersForImport(gp)).Response
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	im := tckms.NewImportKeyMaterialRequest()
	im.KeyId, im.ImportToken, im.ValidTo = common.StringPtr(keyID), p.ImportToken, common.Uint64Ptr(0)
	im.EncryptedKeyMaterial = common.StringPtr(base64.StdEncoding.EncodeToString(wrap(must(base64.StdEncoding.DecodeString(*p.PublicKey)), "sha256", material)))
	must(tc.ImportKeyMaterial(im))
	// An algorithm and spec that do not go together.
	gp.WrappingAlgorithm, gp.WrappingKeySpec = common.StringPtr("RSAES_PKCS1_V1_5"), common.StringPtr("RSA_4096")
	_, err := tc.GetParametersForImport(gp)
	tcError(t, err, "InvalidParameter")
}
