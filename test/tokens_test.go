package test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/opencryptoki"
	"github.com/keyport-kms/keyport/softhsm"
)

// tokens are the PKCS#11 implementations the end-to-end BYOK suite runs on.
var tokens = []struct {
	name string
	new  func(testing.TB) *softhsm.Token
	sm2  bool // the token can decrypt SM2PKE
	ec   bool // the token makes EC key pairs (P-256 signing keys)
}{
	{"SoftHSM2", softhsm.New, true, true},
	{"openCryptoki", opencryptoki.New, false, false}, // no EC at all, no AES-GCM; native OAEP-SHA-256 and in-token unwrap
}

// The BYOK suite on every token, through the built binary and the official
// SDKs: every RSA wrapping algorithm at both protection levels (SM2PKE where
// the token can, refused with the dialect's code where not), then Encrypt,
// Decrypt and GenerateDataKey with the imported material, in both dialects;
// HSM-level signing keys of each spec the token makes (refused with the
// dialect's code where it cannot) and an RSA decryption key; afterwards every key on the token,
// signing keys included, is sensitive and never left extractable.
func TestBYOKOnEveryToken(t *testing.T) {
	for _, tk := range tokens {
		t.Run(tk.name, func(t *testing.T) {
			defer catch(t)
			tok := tk.new(t)
			disabled := map[string]bool{}
			if !tk.sm2 {
				disabled = map[string]bool{"generate EC_SM2": true, "decrypt and import SM2PKE": true}
			}
			selfTest(t, []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN}, disabled)
			s := startServerOn(t, tok)
			c := newV1(t, s, s.sk)
			roundTrip := func(keyID string) {
				enc := kms.CreateEncryptRequest()
				c.prep(enc.RpcRequest)
				enc.KeyId, enc.Plaintext = keyID, base64.StdEncoding.EncodeToString([]byte("byok on "+tk.name))
				blob := must(c.c.Encrypt(enc)).CiphertextBlob
				dec := kms.CreateDecryptRequest()
				c.prep(dec.RpcRequest)
				dec.CiphertextBlob = blob
				if got := must(c.c.Decrypt(dec)).Plaintext; got != enc.Plaintext {
					t.Fatalf("decrypt: %q", got)
				}
				gdk := kms.CreateGenerateDataKeyRequest()
				c.prep(gdk.RpcRequest)
				gdk.KeyId = keyID
				dk := must(c.c.GenerateDataKey(gdk))
				dec.CiphertextBlob = dk.CiphertextBlob
				if got := must(c.c.Decrypt(dec)).Plaintext; got != dk.Plaintext {
					t.Fatal("a data key does not decrypt to itself")
				}
			}
			for _, level := range []string{"SOFTWARE", "HSM"} {
				for _, alg := range []string{"RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"} {
					id, _ := c.byok(level, alg)
					roundTrip(id)
				}
			}
			if tk.sm2 {
				id, _ := c.byok("HSM", "SM2PKE")
				roundTrip(id)
			} else {
				serverError(t, c.sm2Parameters(), 400, "Rejected.UnsupportedOperation")
			}

			tc := newTencent(t, s, s.sk)
			keyID := tcCreate(tc, 2, true)
			if err := tcImport(t, tc, keyID, "RSAES_OAEP_SHA_256", make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
			enc := tckms.NewEncryptRequest()
			enc.KeyId, enc.Plaintext = common.StringPtr(keyID), common.StringPtr("dGVuY2VudA==")
			dec := tckms.NewDecryptRequest()
			dec.CiphertextBlob = must(tc.Encrypt(enc)).Response.CiphertextBlob
			if got := *must(tc.Decrypt(dec)).Response.Plaintext; got != "dGVuY2VudA==" {
				t.Fatalf("Tencent decrypt: %q", got)
			}

			for _, spec := range []string{"RSA_2048", "EC_P256", "EC_P256K"} {
				ck := kms.CreateCreateKeyRequest()
				c.prep(ck.RpcRequest)
				ck.KeySpec, ck.KeyUsage, ck.ProtectionLevel = spec, "SIGN/VERIFY", "HSM"
				res, err := c.c.CreateKey(ck)
				if spec != "RSA_2048" && !tk.ec {
					serverError(t, err, 400, "Rejected.UnsupportedOperation")
					continue
				}
				must(0, err)
				digest := base64.StdEncoding.EncodeToString(make([]byte, 32))
				for _, alg := range map[string][]string{"RSA_2048": {"RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"}, "EC_P256": {"ECDSA_SHA_256"}, "EC_P256K": {"ECDSA_SHA_256"}}[spec] {
					sg := kms.CreateAsymmetricSignRequest()
					c.prep(sg.RpcRequest)
					sg.KeyId, sg.KeyVersionId, sg.Algorithm, sg.Digest = res.KeyMetadata.KeyId, res.KeyMetadata.PrimaryKeyVersion, alg, digest
					vf := kms.CreateAsymmetricVerifyRequest()
					c.prep(vf.RpcRequest)
					vf.KeyId, vf.KeyVersionId, vf.Algorithm, vf.Digest = sg.KeyId, sg.KeyVersionId, alg, digest
					vf.Value = must(c.c.AsymmetricSign(sg)).Value
					if !must(c.c.AsymmetricVerify(vf)).Value {
						t.Errorf("%s %s on %s: the signature does not verify", spec, alg, tk.name)
					}
				}
			}
			decrypting := map[string][]string{"RSA_2048": {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"}, "EC_SM2": {"SM2PKE"}}
			for _, spec := range []string{"RSA_2048", "EC_SM2"} {
				ck := kms.CreateCreateKeyRequest()
				c.prep(ck.RpcRequest)
				ck.KeySpec, ck.KeyUsage, ck.ProtectionLevel = spec, "ENCRYPT/DECRYPT", "HSM"
				res, err := c.c.CreateKey(ck)
				if spec == "EC_SM2" && !tk.sm2 {
					serverError(t, err, 400, "Rejected.UnsupportedOperation")
					continue
				}
				dmd := must(res, err).KeyMetadata
				for _, alg := range decrypting[spec] {
					ae := kms.CreateAsymmetricEncryptRequest()
					c.prep(ae.RpcRequest)
					ae.KeyId, ae.KeyVersionId, ae.Algorithm, ae.Plaintext = dmd.KeyId, dmd.PrimaryKeyVersion, alg, "c2VjcmV0"
					ad := kms.CreateAsymmetricDecryptRequest()
					c.prep(ad.RpcRequest)
					ad.KeyId, ad.KeyVersionId, ad.Algorithm = dmd.KeyId, dmd.PrimaryKeyVersion, alg
					ad.CiphertextBlob = must(c.c.AsymmetricEncrypt(ae)).CiphertextBlob
					if got := must(c.c.AsymmetricDecrypt(ad)).Plaintext; got != ae.Plaintext {
						t.Errorf("%s %s on %s: decrypts to %q", spec, alg, tk.name, got)
					}
				}
			}

			s.stop(t)
			r := keyport(t, s.env, "hsm", "objects", "--json")
			var objs []hsm.Object
			if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil {
				t.Fatalf("objects: %v\n%s%s", err, r.stdout, r.stderr)
			}
			for _, o := range objs {
				if (o.Class == "private-key" || o.Class == "secret-key") && (!*o.Sensitive || *o.Extractable) {
					t.Errorf("%s %s (%s) is not sensitive or is extractable", o.Class, o.ID, o.Label)
				}
			}
		})
	}
}

// selfTest runs `keyport hsm selftest` on a fresh token as an operator
// would: every feature the token can do passes, the ones it cannot are
// reported disabled, and nothing is left on the token.
func selfTest(t *testing.T, env []string, disabled map[string]bool) {
	t.Helper()
	r := keyport(t, env, "hsm", "selftest", "--json")
	var rows []hsm.SelfTestRow
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rows) != nil || len(rows) < 8 {
		t.Fatalf("selftest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, row := range rows {
		if row.Skipped != disabled[row.Feature] || (!row.Skipped && !row.OK) {
			t.Errorf("selftest %s: %+v", row.Feature, row)
		}
		if row.OK && row.Feature != "random" && (row.Layer <= 0 || row.Raw <= 0) {
			t.Errorf("selftest %s: no timing: %+v", row.Feature, row)
		}
	}
	keyport(t, env, "hsm", "selftest").expect(t, 0, "BARE MECHANISM")
	r = keyport(t, env, "hsm", "objects", "--json")
	var objs []hsm.Object
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil || len(objs) != 0 {
		t.Fatalf("selftest left %d objects: %v\n%s", len(objs), err, r.stdout)
	}
}
