package test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/keyport-kms/keyport/asymkey"
)

// TestImportAsymmetricWithOpenSSL: private keys made with openssl, wrapped
// with openssl alone in each envelope that carries them — Alibaba Cloud's
// RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD (pkeyutl OAEP, enc -aes-256-ecb)
// and SM2PKE_SM4_ECB (pkeyutl SM2, enc -sm4-ecb of the scalar), and
// RSA_AES_KEY_WRAP_SHA_256 (id-aes256-wrap-pad) — imported through the
// Alibaba Cloud SDK at both levels, then used: signatures checked by
// openssl against the original public key, ciphertexts openssl made to it
// decrypted. Afterwards pkcs11-tool finds every private key on the token
// sensitive and not extractable.
func TestImportAsymmetricWithOpenSSL(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	v := newV1(t, s, s.sk)
	dir := t.TempDir()
	n := 0
	file := func(name string) string { // a fresh path each call
		n++
		return filepath.Join(dir, fmt.Sprintf("%s-%d", name, n))
	}
	openssl := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		if stdin != nil {
			cmd.Stdin = strings.NewReader(string(stdin))
		}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	write := func(name string, b []byte) string {
		f := file(name)
		must(0, os.WriteFile(f, b, 0o600))
		return f
	}
	cases := []struct {
		spec, usage, level, alg, wspec string
		gen                            []string
	}{
		{"RSA_2048", "SIGN/VERIFY", "HSM", "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", "RSA_2048", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}},
		{"EC_P256", "SIGN/VERIFY", "SOFTWARE", "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", "RSA_2048", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}},
		{"EC_P256", "SIGN/VERIFY", "HSM", "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}},
		{"EC_P256K", "SIGN/VERIFY", "HSM", "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"}},
		{"RSA_3072", "ENCRYPT/DECRYPT", "HSM", "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"}},
		{"EC_SM2", "ENCRYPT/DECRYPT", "HSM", "SM2PKE_SM4_ECB", "EC_SM2", []string{"-algorithm", "SM2"}},
	}
	digest := make([]byte, 32)
	digestFile := write("digest", digest)
	for _, c := range cases {
		keyPEM := file("key")
		openssl(nil, append([]string{"genpkey", "-out", keyPEM}, c.gen...)...)
		pkcs8 := openssl(nil, "pkcs8", "-topk8", "-nocrypt", "-in", keyPEM, "-outform", "DER")
		pubPEM := write("pub", openssl(nil, "pkey", "-in", keyPEM, "-pubout"))

		ck := kms.CreateCreateKeyRequest()
		v.prep(ck.RpcRequest)
		ck.KeySpec, ck.KeyUsage, ck.Origin, ck.ProtectionLevel = c.spec, c.usage, "EXTERNAL", c.level
		md := must(v.c.CreateKey(ck)).KeyMetadata
		gp := kms.CreateGetParametersForImportRequest()
		v.prep(gp.RpcRequest)
		gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = md.KeyId, c.wspec, c.alg
		params := must(v.c.GetParametersForImport(gp))
		wrapDER := write("wrap.der", must(base64.StdEncoding.DecodeString(params.PublicKey)))

		var envelope []byte
		switch c.alg {
		case "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD", "RSA_AES_KEY_WRAP_SHA_256":
			aesKey := file("aes")
			openssl(nil, "rand", "-out", aesKey, "32")
			envelope = openssl(nil, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", wrapDER, "-in", aesKey,
				"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
			cipher := map[string][]string{"RSA_AES_KEY_WRAP_SHA_256": {"-id-aes256-wrap-pad", "-iv", "A65959A6"}, "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD": {"-aes-256-ecb"}}[c.alg]
			envelope = append(envelope, openssl(pkcs8, append([]string{"enc", "-K", hex.EncodeToString(must(os.ReadFile(aesKey)))}, cipher...)...)...)
		case "SM2PKE_SM4_ECB":
			sm4Key := file("sm4")
			openssl(nil, "rand", "-out", sm4Key, "16")
			wrapPEM := write("wrap.pem", openssl(nil, "pkey", "-pubin", "-inform", "DER", "-in", wrapDER))
			envelope = openssl(nil, "pkeyutl", "-encrypt", "-pubin", "-inkey", wrapPEM, "-in", sm4Key)
			k := must(asymkey.ParsePKCS8(pkcs8)) // the raw scalar, which openssl prints only as text
			envelope = append(envelope, openssl(k.Scalar(), "enc", "-sm4-ecb", "-nopad", "-K", hex.EncodeToString(must(os.ReadFile(sm4Key))))...)
		}
		im := kms.CreateImportKeyMaterialRequest()
		v.prep(im.RpcRequest)
		im.KeyId, im.ImportToken, im.EncryptedKeyMaterial = md.KeyId, params.ImportToken, base64.StdEncoding.EncodeToString(envelope)
		must(v.c.ImportKeyMaterial(im))

		if c.usage == "SIGN/VERIFY" {
			alg := map[string]string{"RSA_2048": "RSA_PKCS1_SHA_256", "EC_P256": "ECDSA_SHA_256", "EC_P256K": "ECDSA_SHA_256"}[c.spec]
			sg := kms.CreateAsymmetricSignRequest()
			v.prep(sg.RpcRequest)
			sg.KeyId, sg.KeyVersionId, sg.Algorithm, sg.Digest = md.KeyId, md.PrimaryKeyVersion, alg, base64.StdEncoding.EncodeToString(digest)
			sigFile := write("sig", must(base64.StdEncoding.DecodeString(must(v.c.AsymmetricSign(sg)).Value)))
			args := []string{"pkeyutl", "-verify", "-pubin", "-inkey", pubPEM, "-in", digestFile, "-sigfile", sigFile, "-pkeyopt", "digest:sha256"}
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Errorf("%s %s %s: openssl does not verify against the original key: %v\n%s", c.spec, c.level, c.alg, err, out)
			}
			continue
		}
		msg := []byte("to the key openssl made")
		opts := []string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"}
		alg := "RSAES_OAEP_SHA_256"
		if c.spec == "EC_SM2" {
			opts, alg = nil, "SM2PKE"
		}
		ct := openssl(msg, append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pubPEM}, opts...)...)
		dec := kms.CreateAsymmetricDecryptRequest()
		v.prep(dec.RpcRequest)
		dec.KeyId, dec.KeyVersionId, dec.Algorithm, dec.CiphertextBlob = md.KeyId, md.PrimaryKeyVersion, alg, base64.StdEncoding.EncodeToString(ct)
		if got := must(base64.StdEncoding.DecodeString(must(v.c.AsymmetricDecrypt(dec)).Plaintext)); string(got) != string(msg) {
			t.Errorf("%s %s: decrypts to %q", c.spec, c.level, got)
		}
	}

	// pkcs11-tool reads every private key on the token: sensitive, and
	// none extractable.
	s.stop(t)
	out, err := exec.Command("pkcs11-tool", "--module", s.tok.Module, "--token-label", s.tok.Label, "--login", "--pin", s.tok.PIN,
		"--list-objects", "--type", "privkey").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	keys := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "Access:") {
			continue
		}
		keys++
		flags := strings.Split(strings.TrimSpace(strings.SplitN(line, ":", 2)[1]), ", ")
		sensitive, extractable := false, false
		for _, f := range flags {
			sensitive = sensitive || f == "sensitive"
			extractable = extractable || f == "extractable"
		}
		if !sensitive || extractable {
			t.Errorf("pkcs11-tool: a private key is not sensitive or is extractable: %s", line)
		}
	}
	if keys < 5 {
		t.Errorf("pkcs11-tool lists %d private keys; the HSM-level imports alone made 5\n%s", keys, out)
	}
}
