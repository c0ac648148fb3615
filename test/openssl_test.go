package test

import (
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
)

// The cloud guides wrap material with openssl pkeyutl; so does this test,
// for the three RSA algorithms, importing through the SDK.
func TestOpenSSLWrapping(t *testing.T) {
	defer catch(t)
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed; make test installs it")
	}
	s := startServer(t)
	c := newV1(t, s, s.sk)
	dir := t.TempDir()
	materialFile := filepath.Join(dir, "material.bin")
	material := make([]byte, 32)
	for i := range material {
		material[i] = byte(i * 7)
	}
	if err := os.WriteFile(materialFile, material, 0o600); err != nil {
		t.Fatal(err)
	}
	for alg, opts := range map[string][]string{
		"RSAES_PKCS1_V1_5":   {"-pkeyopt", "rsa_padding_mode:pkcs1"},
		"RSAES_OAEP_SHA_1":   {"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1"},
		"RSAES_OAEP_SHA_256": {"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"},
	} {
		t.Run(alg, func(t *testing.T) {
			defer catch(t)
			c.t = t
			ck := kms.CreateCreateKeyRequest()
			c.prep(ck.RpcRequest)
			ck.Origin = "EXTERNAL"
			id := must(c.c.CreateKey(ck)).KeyMetadata.KeyId
			gp := kms.CreateGetParametersForImportRequest()
			c.prep(gp.RpcRequest)
			gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = id, "RSA_2048", alg
			p := must(c.c.GetParametersForImport(gp))
			pubFile := filepath.Join(dir, alg+".pem")
			der := must(base64.StdEncoding.DecodeString(p.PublicKey))
			if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, alg+".bin")
			args := append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile, "-in", materialFile, "-out", out}, opts...)
			if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, b)
			}
			wrapped := must(os.ReadFile(out))
			im := kms.CreateImportKeyMaterialRequest()
			c.prep(im.RpcRequest)
			im.KeyId, im.ImportToken, im.EncryptedKeyMaterial = id, p.ImportToken, base64.StdEncoding.EncodeToString(wrapped)
			must(c.c.ImportKeyMaterial(im))
			enc := kms.CreateEncryptRequest()
			c.prep(enc.RpcRequest)
			enc.KeyId, enc.Plaintext = id, base64.StdEncoding.EncodeToString([]byte("openssl"))
			must(c.c.Encrypt(enc))
		})
	}
}
