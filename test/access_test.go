package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/pgserver"
	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/softhsm"
)

// Policies as an operator writes them: application a may use keys tagged
// app=a for cryptography (in RAM), and nothing else; the same rights in
// CAM for application c; a key administrator who manages but may not
// destroy.
const (
	ramAppA = `{"Version":"1","Statement":[
  {"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:ReEncrypt*","kms:DescribeKey"],
   "Resource":"acs:kms:*:*:key/*","Condition":{"StringEquals":{"kms:tag/app":"a"}}}]}`
	camAppC = `{"version":"2.0","statement":[
  {"effect":"allow","action":["name/kms:Encrypt","name/kms:Decrypt","name/kms:DescribeKey"],
   "resource":"qcs::kms:*:uin/*:key/creatorUin/*","condition":{"for_any_value:string_equal":{"qcs:resource_tag":["app&a"]}}}]}`
	ramAdmin = `{"Version":"1","Statement":[
  {"Effect":"Allow","Action":["kms:*"],"Resource":"*"},
  {"Effect":"Deny","Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:ScheduleKeyDeletion","kms:DeleteKeyMaterial"],"Resource":"*"}]}`
	ramFromLoopback2 = `{"Version":"1","Statement":[
  {"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"127.0.0.2/32"}}}]}`
	ramExpired = `{"Version":"1","Statement":[
  {"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2020-01-01T00:00:00Z"}}}]}`
)

// makeUser makes a user through the CLI, with flags after the arguments as
// people type them, gives it policies and an access key.
func (s *server) makeUser(t testing.TB, name string, policies map[string]string) (ak, sk string) {
	t.Helper()
	keyport(t, s.env, "user", "create", name, "--json").expect(t, 0, name)
	for pname, doc := range policies {
		f := filepath.Join(t.TempDir(), pname+".json")
		if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		keyport(t, s.env, "user", "policy", "put", name, pname, "--file", f).expect(t, 0, "")
	}
	r := keyport(t, s.env, "access-key", "create", "--user", name, "--json")
	var out struct{ AccessKeyId, AccessKeySecret string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("access-key create --user %s: exit %d\n%s%s", name, r.code, r.stdout, r.stderr)
	}
	return out.AccessKeyId, out.AccessKeySecret
}

func (s *server) as(ak string) *server {
	c := *s
	c.ak = ak
	return &c
}

func (s *server) rawClient(t testing.TB, d client.Dialect, ak, sk string, local net.IP) *client.Client {
	hc := &http.Client{Timeout: 30 * time.Second}
	if local != nil {
		hc.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}).DialContext}
	}
	return must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: d, AccessKeyID: ak, Secret: sk, HTTP: hc}))
}

func apiCode(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err != nil {
		return err.Error()
	}
	return "OK"
}

// TestLeastPrivilege: users with RAM and CAM policies, through the
// official SDKs of both clouds and the built binary: what the review
// reproduced (one application's credential decrypting another's data,
// destroying its material, re-pointing its alias) is refused in each
// dialect's words; what the policies grant works; a deny wins; conditions
// on tags, source address and time hold; a key policy grants a second user
// and denies; a change to a policy shows at once; the audit log names the
// user and the deciding statement.
func TestLeastPrivilege(t *testing.T) {
	defer catch(t)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startServer(t, "--audit-log", audit)
	ctx := context.Background()
	root := s.rawClient(t, client.Aliyun, s.ak, s.sk, nil)
	newKey := func(app string) string {
		var out struct{ KeyMetadata struct{ KeyId string } }
		must(0, root.Call(ctx, "CreateKey", map[string]any{"Tags": `[{"TagKey":"app","TagValue":"` + app + `"}]`}, &out))
		return out.KeyMetadata.KeyId
	}
	keyA, keyB := newKey("a"), newKey("b")
	var ext struct{ KeyMetadata struct{ KeyId string } }
	must(0, root.Call(ctx, "CreateKey", map[string]any{"Origin": "EXTERNAL", "Tags": `[{"TagKey":"app","TagValue":"b"}]`}, &ext))
	blobB := must(root.Encrypt(ctx, keyB, []byte("b's secret")))
	must(0, root.Call(ctx, "CreateAlias", map[string]any{"AliasName": "alias/app-a", "KeyId": keyA}, nil))

	akA, skA := s.makeUser(t, "app-a", map[string]string{"crypto": ramAppA})
	akC, skC := s.makeUser(t, "app-c", map[string]string{"crypto": camAppC})
	akAdm, skAdm := s.makeUser(t, "key-admin", map[string]string{"manage": ramAdmin})
	akNone, skNone := s.makeUser(t, "nobody", nil)
	keyport(t, s.env, "user", "policy", "list", "app-a").expect(t, 0, "crypto")
	keyport(t, s.env, "user", "list", "--json").expect(t, 0, akAdm)
	keyport(t, s.env, "user", "delete", "nobody").expect(t, 1, "access keys")
	keyport(t, s.env, "user", "create", "bad name").expect(t, 1, "user name")

	t.Run("aliyun SDK", func(t *testing.T) {
		defer catch(t)
		a := newV1(t, s.as(akA), skA)
		enc := kms.CreateEncryptRequest()
		a.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = "alias/app-a", base64.StdEncoding.EncodeToString([]byte("mine"))
		blobA := must(a.c.Encrypt(enc)).CiphertextBlob
		dec := kms.CreateDecryptRequest()
		a.prep(dec.RpcRequest)
		dec.CiphertextBlob = blobA
		if pt := must(a.c.Decrypt(dec)).Plaintext; pt != base64.StdEncoding.EncodeToString([]byte("mine")) {
			t.Fatalf("own Decrypt: %q", pt)
		}
		// The attacks: b's ciphertext, b's key's protection and deletion, b's material.
		dec.CiphertextBlob = blobB
		_, err := a.c.Decrypt(dec)
		serverError(t, err, 403, "Forbidden.NoPermission")
		if !strings.Contains(err.Error(), "kms:Decrypt") || !strings.Contains(err.Error(), "key/"+keyB) || strings.Contains(err.Error(), "crypto") {
			t.Fatalf("the refusal should name the action and resource, not the policy: %v", err)
		}
		sdp := kms.CreateSetDeletionProtectionRequest()
		a.prep(sdp.RpcRequest)
		sdp.ProtectedResourceArn, sdp.EnableDeletionProtection = "acs:kms:cn-hangzhou:1:key/"+keyB, "false"
		_, err = a.c.SetDeletionProtection(sdp)
		serverError(t, err, 403, "Forbidden.NoPermission")
		skd := kms.CreateScheduleKeyDeletionRequest()
		a.prep(skd.RpcRequest)
		skd.KeyId, skd.PendingWindowInDays = keyB, "7"
		_, err = a.c.ScheduleKeyDeletion(skd)
		serverError(t, err, 403, "Forbidden.NoPermission")
		dkm := kms.CreateDeleteKeyMaterialRequest()
		a.prep(dkm.RpcRequest)
		dkm.KeyId = ext.KeyMetadata.KeyId
		_, err = a.c.DeleteKeyMaterial(dkm)
		serverError(t, err, 403, "Forbidden.NoPermission")
		ua := kms.CreateUpdateAliasRequest()
		a.prep(ua.RpcRequest)
		ua.AliasName, ua.KeyId = "alias/app-a", keyB
		_, err = a.c.UpdateAlias(ua)
		serverError(t, err, 403, "Forbidden.NoPermission")
		// Nor its own key's destruction: the policy grants cryptography only.
		skd.KeyId = keyA
		_, err = a.c.ScheduleKeyDeletion(skd)
		serverError(t, err, 403, "Forbidden.NoPermission")

		// The key administrator manages, but its deny wins over its kms:*.
		adm := newV1(t, s.as(akAdm), skAdm)
		sdp2 := kms.CreateSetDeletionProtectionRequest()
		adm.prep(sdp2.RpcRequest)
		sdp2.ProtectedResourceArn, sdp2.EnableDeletionProtection = "acs:kms:cn-hangzhou:1:key/"+keyB, "true"
		must(adm.c.SetDeletionProtection(sdp2))
		enc2 := kms.CreateEncryptRequest()
		adm.prep(enc2.RpcRequest)
		enc2.KeyId, enc2.Plaintext = keyB, "eA=="
		_, err = adm.c.Encrypt(enc2)
		serverError(t, err, 403, "Forbidden.NoPermission")
		skd2 := kms.CreateScheduleKeyDeletionRequest()
		adm.prep(skd2.RpcRequest)
		skd2.KeyId, skd2.PendingWindowInDays = keyB, "7"
		_, err = adm.c.ScheduleKeyDeletion(skd2)
		serverError(t, err, 403, "Forbidden.NoPermission")
	})

	t.Run("tencent SDK", func(t *testing.T) {
		defer catch(t)
		c := newTencent(t, s.as(akC), skC)
		enc := tckms.NewEncryptRequest()
		enc.KeyId, enc.Plaintext = common.StringPtr(keyA), common.StringPtr(base64.StdEncoding.EncodeToString([]byte("c")))
		must(c.Encrypt(enc))
		dec := tckms.NewDecryptRequest()
		dec.CiphertextBlob = common.StringPtr(blobB)
		_, err := c.Decrypt(dec)
		tcError(t, err, "AuthFailure.UnauthorizedOperation")
		sk := tckms.NewScheduleKeyDeletionRequest()
		sk.KeyId, sk.PendingWindowInDays = common.StringPtr(keyB), common.Uint64Ptr(7)
		_, err = c.ScheduleKeyDeletion(sk)
		tcError(t, err, "AuthFailure.UnauthorizedOperation")
		dkm := tckms.NewDeleteImportedKeyMaterialRequest()
		dkm.KeyId = common.StringPtr(ext.KeyMetadata.KeyId)
		_, err = c.DeleteImportedKeyMaterial(dkm)
		tcError(t, err, "AuthFailure.UnauthorizedOperation")
		dis := tckms.NewDisableKeysRequest()
		dis.KeyIds = common.StringPtrs([]string{keyA})
		_, err = c.DisableKeys(dis)
		tcError(t, err, "AuthFailure.UnauthorizedOperation")
		// app-a's RAM policy decides its Tencent requests as its Aliyun ones.
		a := newTencent(t, s.as(akA), skA)
		must(a.Encrypt(enc))
		_, err = a.Decrypt(dec)
		tcError(t, err, "AuthFailure.UnauthorizedOperation")
	})

	// Every action, both dialects, refused to a user with no policy;
	// DescribeRegions and Tencent's service information answer anyone.
	t.Run("no rights", func(t *testing.T) {
		for _, d := range []client.Dialect{client.Aliyun, client.Tencent} {
			c := s.rawClient(t, d, akNone, skNone, nil)
			actions := map[client.Dialect][]string{
				client.Aliyun: {"CreateKey", "ListKeys", "DescribeKey", "EnableKey", "DisableKey", "Encrypt", "GenerateDataKey",
					"GenerateDataKeyWithoutPlaintext", "GetParametersForImport", "ListAliases", "ListAliasesByKeyId", "ListKeyVersions",
					"CreateKeyVersion", "GetKeyPolicy", "SetKeyPolicy", "ListResourceTags", "TagResource", "UpdateKeyDescription",
					"UpdateRotationPolicy", "CancelKeyDeletion", "DeleteAlias", "Decrypt", "ReEncrypt", "ImportKeyMaterial",
					"DeleteKeyMaterial", "ScheduleKeyDeletion"},
				client.Tencent: {"CreateKey", "ListKeys", "ListKeyDetail", "DescribeKey", "DescribeKeys", "EnableKey", "Encrypt",
					"GenerateDataKey", "GetParametersForImport", "UpdateAlias", "GetKeyRotationStatus", "EnableKeyRotation",
					"ArchiveKey", "CancelKeyDeletion", "GenerateRandom", "Decrypt", "ReEncrypt", "ImportKeyMaterial",
					"DeleteImportedKeyMaterial", "ScheduleKeyDeletion"},
			}[d]
			for _, act := range actions {
				params := map[string]any{"KeyId": keyA, "KeyIds": []string{keyA}, "Plaintext": "eA==", "AliasName": "alias/app-a", "Alias": "x",
					"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048", "Description": "x", "NumberOfBytes": 16,
					"Policy": `{"Version":"1","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`, "PolicyName": "default",
					"Tags": `[{"TagKey":"k","TagValue":"v"}]`, "EnableAutomaticRotation": "true", "RotationInterval": "30d", "KeySpec": "AES_256",
					"CiphertextBlob": blobB, "DestinationKeyId": keyA, "ImportToken": "not-a-token", "EncryptedKeyMaterial": "eA==", "PendingWindowInDays": 7}
				if act == "CreateKey" {
					params = map[string]any{}
					if d == client.Tencent {
						params["Alias"] = "made-by-nobody"
					}
				}
				want := map[client.Dialect]string{client.Aliyun: "Forbidden.NoPermission", client.Tencent: "AuthFailure.UnauthorizedOperation"}[d]
				if got := apiCode(c.Call(ctx, act, params, nil)); got != want {
					t.Errorf("%s %s by a user with no policy: %s", d, act, got)
				}
			}
		}
		if got := apiCode(s.rawClient(t, client.Aliyun, akNone, skNone, nil).Call(ctx, "DescribeRegions", nil, nil)); got != "OK" {
			t.Errorf("DescribeRegions: %s", got)
		}
		if got := apiCode(s.rawClient(t, client.Tencent, akNone, skNone, nil).Call(ctx, "GetServiceStatus", nil, nil)); got != "OK" {
			t.Errorf("GetServiceStatus: %s", got)
		}
	})

	t.Run("conditions", func(t *testing.T) {
		ak, sk := s.makeUser(t, "from-dot-2", map[string]string{"net": ramFromLoopback2, "old": ramExpired})
		for _, d := range []client.Dialect{client.Aliyun, client.Tencent} {
			if _, err := s.rawClient(t, d, ak, sk, net.ParseIP("127.0.0.2")).Encrypt(ctx, keyB, []byte("x")); err != nil {
				t.Errorf("%s from 127.0.0.2: %v", d, err)
			}
			if _, err := s.rawClient(t, d, ak, sk, net.ParseIP("127.0.0.1")).Encrypt(ctx, keyB, []byte("x")); apiCode(err) == "OK" {
				t.Errorf("%s from 127.0.0.1 allowed", d)
			}
		}
		// The time condition alone (the address one taken away) has passed.
		keyport(t, s.env, "user", "policy", "delete", "from-dot-2", "net").expect(t, 0, "")
		if _, err := s.rawClient(t, client.Aliyun, ak, sk, net.ParseIP("127.0.0.2")).Encrypt(ctx, keyB, []byte("x")); apiCode(err) != "Forbidden.NoPermission" {
			t.Errorf("after the address policy's removal, with only an expired grant left: %v", err)
		}
	})

	t.Run("key policy", func(t *testing.T) {
		// A key policy that names a user grants it; one that denies wins
		// over the user's own allow. The default grants no user.
		kp := `{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:user/nobody"]},"Action":["kms:Encrypt"],"Resource":"*"},` +
			`{"Effect":"Deny","Principal":{"RAM":["acs:ram::1:user/app-a"]},"Action":["kms:Decrypt"],"Resource":"*"}]}`
		must(0, root.Call(ctx, "SetKeyPolicy", map[string]any{"KeyId": keyA, "PolicyName": "default", "Policy": kp}, nil))
		nobody := s.rawClient(t, client.Aliyun, akNone, skNone, nil)
		if _, err := nobody.Encrypt(ctx, keyA, []byte("x")); err != nil {
			t.Errorf("a user the key policy names: %v", err)
		}
		if _, err := nobody.Encrypt(ctx, keyB, []byte("x")); apiCode(err) != "Forbidden.NoPermission" {
			t.Errorf("nobody on a key with the default policy: %v", err)
		}
		a := s.rawClient(t, client.Tencent, akA, skA, nil)
		blob := must(a.Encrypt(ctx, keyA, []byte("x")))
		if _, err := a.Decrypt(ctx, blob); apiCode(err) != "AuthFailure.UnauthorizedOperation" {
			t.Errorf("the key policy's deny: %v", err)
		}
	})

	// Every line names its user; a refusal names what decided it.
	lines := strings.Split(strings.TrimSpace(string(must(os.ReadFile(audit)))), "\n")
	var sawRefusal, sawRoot bool
	for _, l := range lines {
		var r struct {
			Dialect, User, Result string
			Authorization         *struct {
				Allowed              bool
				Action, Resource, By string
			}
		}
		if json.Unmarshal([]byte(l), &r) != nil || r.Dialect == "admin" {
			continue
		}
		if r.User == "" {
			t.Fatalf("an audit line without its user: %s", l)
		}
		sawRoot = sawRoot || r.User == "root"
		if r.Result == "Forbidden.NoPermission" && r.User == "app-a" && r.Authorization != nil && !r.Authorization.Allowed &&
			r.Authorization.By == "no statement allows" && strings.Contains(r.Authorization.Resource, keyB) {
			sawRefusal = true
		}
	}
	if !sawRefusal || !sawRoot {
		t.Errorf("the audit log should show app-a's refusals with what decided, and root's requests (refusal %v, root %v)", sawRefusal, sawRoot)
	}
}

// TestDeployPolicies: every worked example in deploy/policies parses, as
// `keyport user policy put` would take it.
func TestDeployPolicies(t *testing.T) {
	files, _ := filepath.Glob("../deploy/policies/*.json")
	if len(files) < 5 {
		t.Fatalf("deploy/policies has %d policies", len(files))
	}
	for _, f := range files {
		if _, err := policy.Parse(must(os.ReadFile(f)), policy.MaxSize); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestPolicyRevocationOnReplicas: a policy taken from a user on the
// database reaches every replica within --secret-cache-ttl.
func TestPolicyRevocationOnReplicas(t *testing.T) {
	defer catch(t)
	const ttl = 2 * time.Second
	rs := startReplicas(t, pgserver.Database(t), 2, "--secret-cache-ttl", ttl.String())
	ctx := context.Background()
	n0 := rs.nodes[0]
	keyID := must(n0.rawClient(t, client.Aliyun, rs.ak, rs.sk, nil).CreateKey(ctx, false, false))
	ak, sk := n0.makeUser(t, "app", map[string]string{"crypto": `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`})
	for i, n := range rs.nodes {
		if _, err := n.rawClient(t, client.Tencent, ak, sk, nil).Encrypt(ctx, keyID, []byte("x")); err != nil {
			t.Fatalf("replica %d before the revocation: %v", i, err)
		}
	}
	keyport(t, rs.env, "user", "policy", "delete", "app", "crypto").expect(t, 0, "")
	revoked := time.Now()
	refusal := map[client.Dialect]string{client.Aliyun: "Forbidden.NoPermission", client.Tencent: "AuthFailure.UnauthorizedOperation"}
	for i, n := range rs.nodes {
		for d, code := range refusal {
			c := n.rawClient(t, d, ak, sk, nil)
			for {
				_, err := c.Encrypt(ctx, keyID, []byte("x"))
				if apiCode(err) == code {
					break
				}
				if err != nil {
					t.Fatalf("replica %d, %v dialect: %v", i, d, err)
				}
				if time.Since(revoked) > ttl+3*time.Second {
					t.Fatalf("replica %d still allows through the %v dialect %v after the revocation (TTL %v)", i, d, time.Since(revoked), ttl)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// BenchmarkPolicyCost: a user with 10 policies of 10 statements each, with
// wildcards and a condition, encrypts over HTTP at ≥ 0.95 × the root's
// rate, measured in the same run (root and user alternate, twice each, so
// that the machine's drift falls on both).
func BenchmarkPolicyCost(b *testing.B) {
	defer catch(b)
	s := startServerOn(b, softhsm.New(b), "--rate-limit", "0")
	policies := map[string]string{}
	for p := 0; p < 10; p++ {
		var st []string
		for i := 0; i < 9; i++ {
			if p == 0 && i == 0 { // keyport bench makes its keys
				st = append(st, `{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}`)
				continue
			}
			st = append(st, fmt.Sprintf(`{"Effect":"Allow","Action":["kms:Describe*","kms:List%d*"],"Resource":"acs:kms:*:*:key/nothing-%d-*"}`, i, i))
		}
		st = append(st, `{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey*"],"Resource":"acs:kms:*:*:key/*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}}`)
		policies[fmt.Sprintf("p%d", p)] = `{"Version":"1","Statement":[` + strings.Join(st, ",") + `]}`
	}
	ak, sk := s.makeUser(b, "app", policies)
	run := func(id, secret string) float64 {
		env := []string{"KEYPORT_ACCESS_KEY_ID=" + id, "KEYPORT_ACCESS_KEY_SECRET=" + secret}
		return kpBench(b, env, s.addr, "--op", "encrypt", "--concurrency", "8", "--duration", "4s", "--warmup", "1s").Op(client.OpEncrypt).PerSecond
	}
	var root, user float64
	for i := 0; i < 2; i++ {
		root += run(s.ak, s.sk) / 2
		user += run(ak, sk) / 2
	}
	fmt.Printf("\n| measured over HTTP (this run) | measured | against | ratio | target |\n|---|---|---|---|---|\n")
	fmt.Printf("| Encrypt by a user with 10 policies × 10 statements, 8 clients | %.0f req/s | the root's %.0f req/s | %.3f | ≥ 0.95 |\n", user, root, user/root)
	if user/root < 0.95 {
		b.Fatal("a target was missed (see the table)")
	}
}
