package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/client"
)

// keyport import does the BYOK flow in one command, in both dialects, with
// the clouds' own credential variables; the server's refusals end with
// exit 1 and its code; the material is never printed.
func TestImportCommand(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	ali := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	aliEnv := []string{"ALIBABA_CLOUD_ACCESS_KEY_ID=" + s.ak, "ALIBABA_CLOUD_ACCESS_KEY_SECRET=" + s.sk}
	tcEnv := []string{"TENCENTCLOUD_SECRET_ID=" + s.ak, "TENCENTCLOUD_SECRET_KEY=" + s.sk}
	endpoint := "http://" + s.addr
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	file := writeFile(t, "material.bin", string(material))
	secretsIn := func(r result) {
		t.Helper()
		out := r.stdout + r.stderr
		for _, m := range [][]byte{material} {
			for _, enc := range []string{string(m), hex.EncodeToString(m), base64.StdEncoding.EncodeToString(m)} {
				if strings.Contains(out, enc) {
					t.Fatalf("keyport import printed the material:\n%s", out)
				}
			}
		}
	}

	// Aliyun, RSA (the default algorithm), from a file, into an HSM-level key.
	hsmKey := must(ali.CreateKey(ctx, true, true))
	r := keyport(t, aliEnv, "import", "--endpoint", endpoint, "--key-id", hsmKey, "--material", file)
	r.expect(t, 0, "key state: Enabled")
	secretsIn(r)
	blob := must(ali.Encrypt(ctx, hsmKey, []byte("imported")))
	if pt := must(ali.Decrypt(ctx, blob)); string(pt) != "imported" {
		t.Fatalf("decrypt: %q", pt)
	}

	// Tencent, SM2PKE, from stdin.
	tcKey := must(ali.CreateKey(ctx, true, true))
	r = keyportStdin(t, tcEnv, material, "import", "--endpoint", endpoint, "--dialect", "tencent", "--key-id", tcKey,
		"--wrapping-key-spec", "EC_SM2", "--material", "-")
	r.expect(t, 0, "key state: Enabled")
	secretsIn(r)

	// RSA-AES key wrap to a 3072-bit wrapping key.
	kwKey := must(ali.CreateKey(ctx, true, true))
	r = keyport(t, aliEnv, "import", "--endpoint", endpoint, "--key-id", kwKey, "--material", file,
		"--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_256", "--wrapping-key-spec", "RSA_3072")
	r.expect(t, 0, "with RSA_3072/RSA_AES_KEY_WRAP_SHA_256; key state: Enabled")
	secretsIn(r)

	// Asymmetric private keys in PEM, each with Alibaba Cloud's envelope
	// for its kind by default.
	for _, c := range []struct{ spec, usage, want string }{
		{"EC_P256", "SIGN/VERIFY", "a EC_P256 private key into %s with RSA_2048/RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD; key state: Enabled"},
		{"EC_SM2", "ENCRYPT/DECRYPT", "a EC_SM2 private key into %s with EC_SM2/SM2PKE_SM4_ECB; key state: Enabled"},
	} {
		var created struct{ KeyMetadata struct{ KeyId string } }
		must(0, ali.Call(ctx, "CreateKey", map[string]any{"KeySpec": c.spec, "KeyUsage": c.usage, "Origin": "EXTERNAL", "ProtectionLevel": "HSM"}, &created))
		pemFile := filepath.Join(t.TempDir(), "key.pem")
		gen := map[string][]string{"EC_P256": {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, "EC_SM2": {"-algorithm", "SM2"}}[c.spec]
		if out, err := exec.Command("openssl", append([]string{"genpkey", "-out", pemFile}, gen...)...).CombinedOutput(); err != nil {
			t.Fatalf("openssl: %v\n%s", err, out)
		}
		id := created.KeyMetadata.KeyId
		r = keyport(t, aliEnv, "import", "--endpoint", endpoint, "--key-id", id, "--material", pemFile)
		r.expect(t, 0, fmt.Sprintf(c.want, id))
		if pemText := string(must(os.ReadFile(pemFile))); strings.Contains(r.stdout+r.stderr, strings.Split(pemText, "\n")[1]) {
			t.Fatal("keyport import printed the private key")
		}
	}
	r = keyport(t, aliEnv, "import", "--endpoint", endpoint, "--key-id", hsmKey, "--material", file, "--wrapping-algorithm", "SM2PKE_SM4_ECB")
	r.expect(t, 2, "carries private keys")

	softKey := must(ali.CreateKey(ctx, true, false))
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"wrong length", []string{"--key-id", softKey, "--material", writeFile(t, "short", string(material[:31]))}, 1, "refused: InvalidKeyMaterial"},
		{"unknown key", []string{"--key-id", "00000000-0000-0000-0000-000000000000", "--material", file}, 1, "refused: Forbidden.KeyNotFound"},
		{"SM2 into a SOFTWARE key", []string{"--key-id", softKey, "--material", file, "--wrapping-algorithm", "SM2PKE"}, 1, "refused: Unsupported.ProtectionLevel"},
		{"algorithm and spec disagree", []string{"--key-id", softKey, "--material", file, "--wrapping-algorithm", "SM2PKE", "--wrapping-key-spec", "RSA_2048"}, 2, "goes with --wrapping-key-spec EC_SM2"},
		{"no material", []string{"--key-id", softKey, "--material", writeFile(t, "empty", "")}, 1, "want the raw material"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keyport(t, aliEnv, append([]string{"import", "--endpoint", endpoint}, tc.args...)...)
			r.expect(t, tc.code, tc.msg)
			secretsIn(r)
		})
	}
	if st := must(ali.KeyState(ctx, softKey)); st != "PendingImport" {
		t.Fatalf("refused imports changed the key: %s", st)
	}
	keyport(t, nil, "import", "--endpoint", endpoint, "--key-id", softKey, "--material", file).expect(t, 2, "no credentials")
}
