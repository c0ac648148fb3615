package test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"
)

// TestAsymmetricSigning: signing keys of every spec through Alibaba
// Cloud's Go SDK on the built binary — CreateKey with KeySpec and
// KeyUsage, AsymmetricSign, GetPublicKey's PEM, AsymmetricVerify — each
// signature checked by openssl against the public key; and what a
// signing key may not do refused in the dialect's words.
func TestAsymmetricSigning(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	v := newV1(t, s, s.sk)
	dir := t.TempDir()
	digest := sha256.Sum256([]byte("release 1.0.0"))
	digestFile := filepath.Join(dir, "digest")
	must(0, os.WriteFile(digestFile, digest[:], 0o600))
	// openssl's options for each algorithm, checking a signature over a
	// SHA-256 digest.
	opensslOpts := map[string][]string{
		"RSA_PSS_SHA_256":   {"-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32", "-pkeyopt", "rsa_mgf1_md:sha256"},
		"RSA_PKCS1_SHA_256": {"-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pkcs1"},
		"ECDSA_SHA_256":     {"-pkeyopt", "digest:sha256"},
		"SM2DSA":            {}, // the input is e = SM3(Z_A ‖ M), which openssl checks as given
	}
	cases := []struct{ spec, level string }{
		{"RSA_2048", "HSM"}, {"RSA_3072", "HSM"}, {"EC_P256", "HSM"}, {"EC_P256K", "HSM"},
		{"RSA_2048", "SOFTWARE"}, {"EC_P256", "SOFTWARE"}, {"EC_P256K", "SOFTWARE"}, {"EC_SM2", "SOFTWARE"},
	}
	for _, c := range cases {
		ck := kms.CreateCreateKeyRequest()
		v.prep(ck.RpcRequest)
		ck.KeySpec, ck.KeyUsage, ck.ProtectionLevel = c.spec, "SIGN/VERIFY", c.level
		md := must(v.c.CreateKey(ck)).KeyMetadata
		if md.KeySpec != c.spec || md.KeyUsage != "SIGN/VERIFY" || md.ProtectionLevel != c.level {
			t.Fatalf("%s %s: metadata %+v", c.spec, c.level, md)
		}
		dk := kms.CreateDescribeKeyRequest()
		v.prep(dk.RpcRequest)
		dk.KeyId = md.KeyId
		if got := must(v.c.DescribeKey(dk)).KeyMetadata; got.KeySpec != c.spec || got.KeyUsage != "SIGN/VERIFY" {
			t.Fatalf("DescribeKey: %+v", got)
		}
		pemFile := publicKeyFile(t, v, dir, md.KeyId, md.PrimaryKeyVersion)
		algs := map[string][]string{"EC_P256": {"ECDSA_SHA_256"}, "EC_P256K": {"ECDSA_SHA_256"}, "EC_SM2": {"SM2DSA"}}[c.spec]
		if algs == nil {
			algs = []string{"RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"}
		}
		for _, alg := range algs {
			sg := kms.CreateAsymmetricSignRequest()
			v.prep(sg.RpcRequest)
			sg.KeyId, sg.KeyVersionId, sg.Algorithm, sg.Digest = md.KeyId, md.PrimaryKeyVersion, alg, base64.StdEncoding.EncodeToString(digest[:])
			sig := must(base64.StdEncoding.DecodeString(must(v.c.AsymmetricSign(sg)).Value))
			sigFile := filepath.Join(dir, md.KeyId+alg+".sig")
			must(0, os.WriteFile(sigFile, sig, 0o600))
			args := append([]string{"pkeyutl", "-verify", "-pubin", "-inkey", pemFile, "-in", digestFile, "-sigfile", sigFile}, opensslOpts[alg]...)
			if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
				t.Errorf("%s %s %s: openssl does not verify the signature: %v\n%s", c.spec, c.level, alg, err, out)
			}
			vf := kms.CreateAsymmetricVerifyRequest()
			v.prep(vf.RpcRequest)
			vf.KeyId, vf.KeyVersionId, vf.Algorithm, vf.Digest, vf.Value = md.KeyId, md.PrimaryKeyVersion, alg, sg.Digest, base64.StdEncoding.EncodeToString(sig)
			if !must(v.c.AsymmetricVerify(vf)).Value {
				t.Errorf("%s %s %s: AsymmetricVerify says the signature does not hold", c.spec, c.level, alg)
			}
			sig[len(sig)/2] ^= 1
			vf.Value = base64.StdEncoding.EncodeToString(sig)
			if must(v.c.AsymmetricVerify(vf)).Value {
				t.Errorf("%s %s %s: AsymmetricVerify accepts a changed signature", c.spec, c.level, alg)
			}
		}
		// What a signing key may not do.
		enc := kms.CreateEncryptRequest()
		v.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = md.KeyId, base64.StdEncoding.EncodeToString([]byte("x"))
		_, err := v.c.Encrypt(enc)
		serverError(t, err, 400, "Rejected.UnsupportedOperation")
		sg := kms.CreateAsymmetricSignRequest()
		v.prep(sg.RpcRequest)
		sg.KeyId, sg.KeyVersionId, sg.Digest = md.KeyId, md.PrimaryKeyVersion, base64.StdEncoding.EncodeToString(digest[:])
		sg.Algorithm = map[bool]string{true: "RSA_PSS_SHA_256", false: "ECDSA_SHA_256"}[strings.HasPrefix(c.spec, "EC_")]
		_, err = v.c.AsymmetricSign(sg)
		serverError(t, err, 400, "InvalidParameter")
		sg.Algorithm, sg.Digest = algs[0], base64.StdEncoding.EncodeToString(digest[:20])
		_, err = v.c.AsymmetricSign(sg)
		serverError(t, err, 400, "InvalidParameter")
	}
	// A symmetric key does not sign; a spec needs its usage.
	sym := kms.CreateCreateKeyRequest()
	v.prep(sym.RpcRequest)
	symID := must(v.c.CreateKey(sym)).KeyMetadata.KeyId
	sg := kms.CreateAsymmetricSignRequest()
	v.prep(sg.RpcRequest)
	sg.KeyId, sg.KeyVersionId, sg.Algorithm, sg.Digest = symID, "v", "RSA_PSS_SHA_256", base64.StdEncoding.EncodeToString(digest[:])
	_, err := v.c.AsymmetricSign(sg)
	serverError(t, err, 400, "Rejected.UnsupportedOperation")
	bad := kms.CreateCreateKeyRequest()
	v.prep(bad.RpcRequest)
	bad.KeySpec, bad.KeyUsage = "EC_P256", "ENCRYPT/DECRYPT"
	_, err = v.c.CreateKey(bad)
	serverError(t, err, 400, "InvalidParameter")
	// ListKeys' Filters find them by spec and usage.
	lk := kms.CreateListKeysRequest()
	v.prep(lk.RpcRequest)
	lk.PageSize = requests.NewInteger(100)
	lk.Filters = `[{"Key":"KeyUsage","Values":["SIGN/VERIFY"]},{"Key":"KeySpec","Values":["EC_P256K","EC_SM2"]}]`
	if n := must(v.c.ListKeys(lk)).TotalCount; n != 3 {
		t.Errorf("ListKeys finds %d EC_P256K and EC_SM2 signing keys, want 3", n)
	}
	// SoftHSM2 has no SM2 signing mechanism: an HSM-level SM2 signing key
	// is refused, as the probe decided.
	bad.KeySpec, bad.KeyUsage, bad.ProtectionLevel = "EC_SM2", "SIGN/VERIFY", "HSM"
	_, err = v.c.CreateKey(bad)
	serverError(t, err, 400, "Rejected.UnsupportedOperation")
}

// TestTencentAsymmetricSigning: the same keys through Tencent Cloud's Go
// SDK — CreateKey with an ASYMMETRIC_SIGN_VERIFY usage at both levels,
// SignByAsymmetricKey with MessageType RAW and DIGEST, GetPublicKey,
// VerifyByAsymmetricKey — each signature checked by Go's crypto against
// the public key.
func TestTencentAsymmetricSigning(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newTencent(t, s, s.sk)
	message := []byte("release 1.0.0")
	digest := sha256.Sum256(message)
	for _, tc := range []struct {
		usage string
		hsm   bool
		algs  []string
	}{
		{"ASYMMETRIC_SIGN_VERIFY_RSA_2048", true, []string{"RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"}},
		{"ASYMMETRIC_SIGN_VERIFY_ECC", true, []string{"ECC_P256_R1"}},
		{"ASYMMETRIC_SIGN_VERIFY_RSA_2048", false, []string{"RSA_PSS_SHA_256"}},
		{"ASYMMETRIC_SIGN_VERIFY_ECC", false, []string{"ECC_P256_R1"}},
		{"ASYMMETRIC_SIGN_VERIFY_SM2", false, []string{"SM2DSA"}},
	} {
		ck := tckms.NewCreateKeyRequest()
		ck.Alias, ck.KeyUsage = common.StringPtr("sign-"+strconv.FormatInt(time.Now().UnixNano(), 36)), common.StringPtr(tc.usage)
		if tc.hsm {
			ck.HsmClusterId = common.StringPtr("keyport-hsm")
		}
		created := must(c.CreateKey(ck)).Response
		if *created.KeyUsage != tc.usage {
			t.Fatalf("CreateKey: KeyUsage %s, want %s", *created.KeyUsage, tc.usage)
		}
		id := created.KeyId
		gp := tckms.NewGetPublicKeyRequest()
		gp.KeyId = id
		pk := must(c.GetPublicKey(gp)).Response
		der := must(base64.StdEncoding.DecodeString(*pk.PublicKey))
		if block, _ := pem.Decode([]byte(*pk.PublicKeyPem)); block == nil || !bytes.Equal(block.Bytes, der) {
			t.Fatalf("%s: PublicKeyPem is not PublicKey's DER", tc.usage)
		}
		pub := must(smx509.ParsePKIXPublicKey(der))
		digest := digest
		if tc.algs[0] == "SM2DSA" { // the digest SM2DSA signs is e = SM3(Z_A ‖ M)
			copy(digest[:], must(sm2.CalculateSM2Hash(pub.(*ecdsa.PublicKey), message, nil)))
		}
		for _, alg := range tc.algs {
			for _, mt := range []struct{ typ, msg string }{
				{"RAW", base64.StdEncoding.EncodeToString(message)},
				{"DIGEST", base64.StdEncoding.EncodeToString(digest[:])},
			} {
				sg := tckms.NewSignByAsymmetricKeyRequest()
				sg.KeyId, sg.Algorithm, sg.Message, sg.MessageType = id, common.StringPtr(alg), common.StringPtr(mt.msg), common.StringPtr(mt.typ)
				sigB64 := must(c.SignByAsymmetricKey(sg)).Response.Signature
				sig := must(base64.StdEncoding.DecodeString(*sigB64))
				var ok bool
				switch k := pub.(type) {
				case *rsa.PublicKey:
					if alg == "RSA_PSS_SHA_256" {
						ok = rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: 32}) == nil
					} else {
						ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
					}
				case *ecdsa.PublicKey:
					if alg == "SM2DSA" {
						ok = sm2.VerifyASN1WithSM2(k, nil, message, sig)
					} else {
						ok = ecdsa.VerifyASN1(k, digest[:], sig)
					}
				}
				if !ok {
					t.Errorf("%s hsm=%v %s %s: Go's crypto does not verify the signature", tc.usage, tc.hsm, alg, mt.typ)
				}
				vf := tckms.NewVerifyByAsymmetricKeyRequest()
				vf.KeyId, vf.Algorithm, vf.Message, vf.MessageType, vf.SignatureValue = id, sg.Algorithm, sg.Message, sg.MessageType, sigB64
				if !*must(c.VerifyByAsymmetricKey(vf)).Response.SignatureValid {
					t.Errorf("%s %s %s: VerifyByAsymmetricKey says the signature does not hold", tc.usage, alg, mt.typ)
				}
				// The same signature over another message does not hold.
				vf.Message, vf.MessageType = common.StringPtr(base64.StdEncoding.EncodeToString([]byte("release 1.0.1"))), common.StringPtr("RAW")
				if *must(c.VerifyByAsymmetricKey(vf)).Response.SignatureValid {
					t.Errorf("%s %s: VerifyByAsymmetricKey accepts a signature over another message", tc.usage, alg)
				}
			}
		}
		// Refusals: a message over the limit, a digest of the wrong size, an
		// algorithm of the other family, and Encrypt under a signing key.
		sg := tckms.NewSignByAsymmetricKeyRequest()
		sg.KeyId, sg.Algorithm = id, common.StringPtr(tc.algs[0])
		sg.Message = common.StringPtr(base64.StdEncoding.EncodeToString(make([]byte, 4097)))
		_, err := c.SignByAsymmetricKey(sg)
		tcError(t, err, "InvalidParameter")
		sg.Message, sg.MessageType = common.StringPtr(base64.StdEncoding.EncodeToString(digest[:20])), common.StringPtr("DIGEST")
		_, err = c.SignByAsymmetricKey(sg)
		tcError(t, err, "InvalidParameter")
		sg.MessageType, sg.Algorithm = common.StringPtr("RAW"), common.StringPtr(map[bool]string{true: "ECC_P256_R1", false: "RSA_PSS_SHA_256"}[strings.HasSuffix(tc.usage, "RSA_2048")])
		_, err = c.SignByAsymmetricKey(sg)
		tcError(t, err, "InvalidParameter")
		enc := tckms.NewEncryptRequest()
		enc.KeyId, enc.Plaintext = id, common.StringPtr(base64.StdEncoding.EncodeToString([]byte("x")))
		_, err = c.Encrypt(enc)
		tcError(t, err, "UnsupportedOperation")
	}
	// An HSM-level SM2 signing key: SoftHSM2 cannot sign SM2DSA.
	ck := tckms.NewCreateKeyRequest()
	ck.Alias, ck.KeyUsage, ck.HsmClusterId = common.StringPtr("sm2-hsm"), common.StringPtr("ASYMMETRIC_SIGN_VERIFY_SM2"), common.StringPtr("keyport-hsm")
	_, err := c.CreateKey(ck)
	tcError(t, err, "UnsupportedOperation")
	// A symmetric key has no public half.
	gp := tckms.NewGetPublicKeyRequest()
	gp.KeyId = common.StringPtr(tcCreate(c, 1, false))
	_, err = c.GetPublicKey(gp)
	tcError(t, err, "UnsupportedOperation")
}

// TestAsymmetricDecryption: RSA ENCRYPT/DECRYPT keys through both clouds'
// Go SDKs on the built binary. openssl encrypts to the key GetPublicKey
// gives, with OAEP over SHA-256 and SHA-1 (and PKCS#1 v1.5 for Tencent
// Cloud), and the API decrypts; AsymmetricEncrypt's ciphertexts decrypt
// with AsymmetricDecrypt; oversized plaintexts and other algorithms are
// refused in each dialect's words.
func TestAsymmetricDecryption(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	v := newV1(t, s, s.sk)
	tc := newTencent(t, s, s.sk)
	dir := t.TempDir()
	msg := []byte("a short secret for an RSA key")
	msgFile := filepath.Join(dir, "msg")
	must(0, os.WriteFile(msgFile, msg, 0o600))
	opensslEncrypt := func(pemFile, alg string) []byte {
		t.Helper()
		args := []string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pemFile, "-in", msgFile}
		switch alg {
		case "RSAES_OAEP_SHA_256":
			args = append(args, "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256")
		case "RSAES_OAEP_SHA_1":
			args = append(args, "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1")
		default:
			args = append(args, "-pkeyopt", "rsa_padding_mode:pkcs1")
		}
		out, err := exec.Command("openssl", args...).Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", alg, err)
		}
		return out
	}
	for _, c := range []struct{ spec, level string }{{"RSA_2048", "HSM"}, {"RSA_3072", "HSM"}, {"RSA_2048", "SOFTWARE"}} {
		ck := kms.CreateCreateKeyRequest()
		v.prep(ck.RpcRequest)
		ck.KeySpec, ck.KeyUsage, ck.ProtectionLevel = c.spec, "ENCRYPT/DECRYPT", c.level
		md := must(v.c.CreateKey(ck)).KeyMetadata
		pemFile := publicKeyFile(t, v, dir, md.KeyId, md.PrimaryKeyVersion)
		for _, alg := range []string{"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"} {
			dec := kms.CreateAsymmetricDecryptRequest()
			v.prep(dec.RpcRequest)
			dec.KeyId, dec.KeyVersionId, dec.Algorithm = md.KeyId, md.PrimaryKeyVersion, alg
			dec.CiphertextBlob = base64.StdEncoding.EncodeToString(opensslEncrypt(pemFile, alg))
			if got := must(base64.StdEncoding.DecodeString(must(v.c.AsymmetricDecrypt(dec)).Plaintext)); !bytes.Equal(got, msg) {
				t.Fatalf("%s %s %s: openssl's ciphertext decrypts to %q", c.spec, c.level, alg, got)
			}
			enc := kms.CreateAsymmetricEncryptRequest()
			v.prep(enc.RpcRequest)
			enc.KeyId, enc.KeyVersionId, enc.Algorithm, enc.Plaintext = md.KeyId, md.PrimaryKeyVersion, alg, base64.StdEncoding.EncodeToString(msg)
			dec.CiphertextBlob = must(v.c.AsymmetricEncrypt(enc)).CiphertextBlob
			if got := must(v.c.AsymmetricDecrypt(dec)).Plaintext; got != enc.Plaintext {
				t.Fatalf("%s %s %s: AsymmetricEncrypt's ciphertext decrypts to %q", c.spec, c.level, alg, got)
			}
			enc.Plaintext = base64.StdEncoding.EncodeToString(make([]byte, map[string]int{"RSA_2048": 215, "RSA_3072": 343}[c.spec])) // one over OAEP-SHA-1's limit
			_, err := v.c.AsymmetricEncrypt(enc)
			serverError(t, err, 400, "InvalidParameter")
			dec.CiphertextBlob = base64.StdEncoding.EncodeToString(make([]byte, 10))
			_, err = v.c.AsymmetricDecrypt(dec)
			serverError(t, err, 400, "InvalidParameter")
		}
		dec := kms.CreateAsymmetricDecryptRequest()
		v.prep(dec.RpcRequest)
		dec.KeyId, dec.KeyVersionId, dec.Algorithm = md.KeyId, md.PrimaryKeyVersion, "RSAES_PKCS1_V1_5"
		dec.CiphertextBlob = base64.StdEncoding.EncodeToString(opensslEncrypt(pemFile, "RSAES_PKCS1_V1_5"))
		_, err := v.c.AsymmetricDecrypt(dec)
		serverError(t, err, 400, "InvalidParameter")
		sg := kms.CreateAsymmetricSignRequest()
		v.prep(sg.RpcRequest)
		sg.KeyId, sg.KeyVersionId, sg.Algorithm, sg.Digest = md.KeyId, md.PrimaryKeyVersion, "RSA_PSS_SHA_256", base64.StdEncoding.EncodeToString(make([]byte, 32))
		_, err = v.c.AsymmetricSign(sg)
		serverError(t, err, 400, "Rejected.UnsupportedOperation")
	}

	// SM2 at both levels: openssl's SM2 encryption (ASN.1 C1C3C2) to the
	// key from GetPublicKey, and AsymmetricEncrypt's, decrypt through both
	// dialects (the token derives the shared point at HSM level).
	for _, level := range []string{"HSM", "SOFTWARE"} {
		ck := kms.CreateCreateKeyRequest()
		v.prep(ck.RpcRequest)
		ck.KeySpec, ck.KeyUsage, ck.ProtectionLevel = "EC_SM2", "ENCRYPT/DECRYPT", level
		md := must(v.c.CreateKey(ck)).KeyMetadata
		pemFile := publicKeyFile(t, v, dir, md.KeyId, md.PrimaryKeyVersion)
		theirs := must(exec.Command("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pemFile, "-in", msgFile).Output())
		enc := kms.CreateAsymmetricEncryptRequest()
		v.prep(enc.RpcRequest)
		enc.KeyId, enc.KeyVersionId, enc.Algorithm, enc.Plaintext = md.KeyId, md.PrimaryKeyVersion, "SM2PKE", base64.StdEncoding.EncodeToString(msg)
		ours := must(v.c.AsymmetricEncrypt(enc)).CiphertextBlob
		for who, blob := range map[string]string{"openssl": base64.StdEncoding.EncodeToString(theirs), "AsymmetricEncrypt": ours} {
			dec := kms.CreateAsymmetricDecryptRequest()
			v.prep(dec.RpcRequest)
			dec.KeyId, dec.KeyVersionId, dec.Algorithm, dec.CiphertextBlob = md.KeyId, md.PrimaryKeyVersion, "SM2PKE", blob
			if got := must(v.c.AsymmetricDecrypt(dec)).Plaintext; got != enc.Plaintext {
				t.Fatalf("SM2 %s, %s's ciphertext: %q", level, who, got)
			}
			sd := tckms.NewAsymmetricSm2DecryptRequest()
			sd.KeyId, sd.Ciphertext = common.StringPtr(md.KeyId), common.StringPtr(blob)
			if got := *must(tc.AsymmetricSm2Decrypt(sd)).Response.Plaintext; got != enc.Plaintext {
				t.Fatalf("Tencent SM2 %s, %s's ciphertext: %q", level, who, got)
			}
		}
		bad := bytes.Clone(theirs)
		bad[len(bad)-1] ^= 1
		sd := tckms.NewAsymmetricSm2DecryptRequest()
		sd.KeyId, sd.Ciphertext = common.StringPtr(md.KeyId), common.StringPtr(base64.StdEncoding.EncodeToString(bad))
		_, err := tc.AsymmetricSm2Decrypt(sd)
		tcError(t, err, "InvalidParameterValue.InvalidCiphertext")
		sd.Ciphertext = common.StringPtr(base64.StdEncoding.EncodeToString(make([]byte, 257)))
		_, err = tc.AsymmetricSm2Decrypt(sd)
		tcError(t, err, "InvalidParameter")
	}
	// Tencent Cloud's own SM2 decryption key.
	ck := tckms.NewCreateKeyRequest()
	ck.Alias, ck.KeyUsage, ck.HsmClusterId = common.StringPtr("sm2-dec"), common.StringPtr("ASYMMETRIC_DECRYPT_SM2"), common.StringPtr("keyport-hsm")
	sm2Key := must(tc.CreateKey(ck)).Response
	if *sm2Key.KeyUsage != "ASYMMETRIC_DECRYPT_SM2" {
		t.Fatalf("CreateKey: KeyUsage %s", *sm2Key.KeyUsage)
	}

	// Tencent Cloud: ASYMMETRIC_DECRYPT_RSA_2048 at both levels, every
	// algorithm AsymmetricRsaDecrypt documents.
	for _, hsmLevel := range []bool{true, false} {
		ck := tckms.NewCreateKeyRequest()
		ck.Alias, ck.KeyUsage = common.StringPtr("dec-"+strconv.FormatInt(time.Now().UnixNano(), 36)), common.StringPtr("ASYMMETRIC_DECRYPT_RSA_2048")
		if hsmLevel {
			ck.HsmClusterId = common.StringPtr("keyport-hsm")
		}
		created := must(tc.CreateKey(ck)).Response
		if *created.KeyUsage != "ASYMMETRIC_DECRYPT_RSA_2048" {
			t.Fatalf("CreateKey: KeyUsage %s", *created.KeyUsage)
		}
		gp := tckms.NewGetPublicKeyRequest()
		gp.KeyId = created.KeyId
		pemFile := filepath.Join(dir, *created.KeyId+".pem")
		must(0, os.WriteFile(pemFile, []byte(*must(tc.GetPublicKey(gp)).Response.PublicKeyPem), 0o600))
		for _, alg := range []string{"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"} {
			dec := tckms.NewAsymmetricRsaDecryptRequest()
			dec.KeyId, dec.Algorithm = created.KeyId, common.StringPtr(alg)
			dec.Ciphertext = common.StringPtr(base64.StdEncoding.EncodeToString(opensslEncrypt(pemFile, alg)))
			res := must(tc.AsymmetricRsaDecrypt(dec)).Response
			if got := must(base64.StdEncoding.DecodeString(*res.Plaintext)); !bytes.Equal(got, msg) || *res.KeyId != *created.KeyId {
				t.Fatalf("Tencent hsm=%v %s: %q", hsmLevel, alg, got)
			}
			bad := opensslEncrypt(pemFile, alg)
			bad[5] ^= 1
			dec.Ciphertext = common.StringPtr(base64.StdEncoding.EncodeToString(bad))
			_, err := tc.AsymmetricRsaDecrypt(dec)
			tcError(t, err, "InvalidParameterValue.InvalidCiphertext")
		}
		dec := tckms.NewAsymmetricRsaDecryptRequest()
		dec.KeyId, dec.Algorithm, dec.Ciphertext = created.KeyId, common.StringPtr("SM2PKE"), common.StringPtr("AAAA")
		_, err := tc.AsymmetricRsaDecrypt(dec)
		tcError(t, err, "InvalidParameter")
	}
}

// publicKeyFile writes the PEM that GetPublicKey answers for a key into
// dir, for openssl to read.
func publicKeyFile(t *testing.T, v *v1, dir, keyID, version string) string {
	t.Helper()
	gp := kms.CreateGetPublicKeyRequest()
	v.prep(gp.RpcRequest)
	gp.KeyId, gp.KeyVersionId = keyID, version
	file := filepath.Join(dir, keyID+".pem")
	must(0, os.WriteFile(file, []byte(must(v.c.GetPublicKey(gp)).PublicKey), 0o600))
	return file
}
