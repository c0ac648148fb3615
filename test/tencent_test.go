package test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/test/signers"
)

func newTencent(t *testing.T, s *server, secret string) *tckms.Client {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = s.addr
	cpf.HttpProfile.Scheme = "HTTP"
	return must(tckms.NewClient(common.NewCredential(s.ak, secret), "ap-guangzhou", cpf))
}

// tcError asserts Response.Error.Code.
func tcError(t *testing.T, err error, code string) {
	t.Helper()
	var se *tcerr.TencentCloudSDKError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	if se.RequestId == "" {
		t.Fatalf("no RequestId with %s", code)
	}
}

// tcImport runs GetParametersForImport → wrap → ImportKeyMaterial.
func tcImport(t *testing.T, c *tckms.Client, keyID, alg string, material []byte) error {
	gp := tckms.NewGetParametersForImportRequest()
	gp.KeyId, gp.WrappingAlgorithm, gp.WrappingKeySpec = common.StringPtr(keyID), common.StringPtr(alg), common.StringPtr(byok.Spec(alg))
	p, err := c.GetParametersForImport(gp)
	if err != nil {
		return err
	}
	if *p.Response.ParametersValidTo < uint64(time.Now().Unix()) {
		t.Fatalf("ParametersValidTo %d is in the past", *p.Response.ParametersValidTo)
	}
	pub := must(base64.StdEncoding.DecodeString(*p.Response.PublicKey))
	im := tckms.NewImportKeyMaterialRequest()
	im.KeyId, im.ImportToken = common.StringPtr(keyID), p.Response.ImportToken
	im.EncryptedKeyMaterial = common.StringPtr(base64.StdEncoding.EncodeToString(must(byok.Wrap(pub, alg, material))))
	im.ValidTo = common.Uint64Ptr(0)
	_, err = c.ImportKeyMaterial(im)
	return err
}

func tcCreate(c *tckms.Client, typ uint64, hsm bool) string {
	ck := tckms.NewCreateKeyRequest()
	ck.Alias, ck.Type = common.StringPtr("byok-"+strconv.FormatInt(time.Now().UnixNano(), 36)), common.Uint64Ptr(typ)
	if hsm {
		ck.HsmClusterId = common.StringPtr("keyport-hsm")
	}
	return *must(c.CreateKey(ck)).Response.KeyId
}

func TestTencentSDK(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newTencent(t, s, s.sk)
	for _, tc := range []struct {
		alg string
		hsm bool
	}{{"RSAES_PKCS1_V1_5", false}, {"RSAES_OAEP_SHA_1", false}, {"RSAES_OAEP_SHA_256", true}, {"SM2PKE", true}} {
		t.Run(tc.alg, func(t *testing.T) {
			defer catch(t)
			id := tcCreate(c, 2, tc.hsm)
			dk := tckms.NewDescribeKeyRequest()
			dk.KeyId = common.StringPtr(id)
			md := must(c.DescribeKey(dk)).Response.KeyMetadata
			if *md.KeyState != "PendingImport" || *md.Origin != "EXTERNAL" || *md.KeyUsage != "ENCRYPT_DECRYPT" || *md.CreateTime == 0 {
				t.Fatalf("new EXTERNAL key: %s", must(json.Marshal(md)))
			}
			material := make([]byte, 32)
			_, _ = rand.Read(material)
			if err := tcImport(t, c, id, tc.alg, material); err != nil {
				t.Fatal(err)
			}
			if st := *must(c.DescribeKey(dk)).Response.KeyMetadata.KeyState; st != "Enabled" {
				t.Fatalf("after import: %s", st)
			}
			enc := tckms.NewEncryptRequest()
			enc.KeyId, enc.Plaintext = common.StringPtr(id), common.StringPtr(base64.StdEncoding.EncodeToString([]byte("tencent")))
			enc.EncryptionContext = common.StringPtr(`{"k":"v"}`)
			ct := must(c.Encrypt(enc)).Response.CiphertextBlob
			dec := tckms.NewDecryptRequest()
			dec.CiphertextBlob, dec.EncryptionContext = ct, common.StringPtr(`{"k":"v"}`)
			if pt := *must(c.Decrypt(dec)).Response.Plaintext; pt != base64.StdEncoding.EncodeToString([]byte("tencent")) {
				t.Fatalf("decrypt: %s", pt)
			}
			gdk := tckms.NewGenerateDataKeyRequest()
			gdk.KeyId, gdk.KeySpec = common.StringPtr(id), common.StringPtr("AES_256")
			d := must(c.GenerateDataKey(gdk)).Response
			dec.CiphertextBlob, dec.EncryptionContext = d.CiphertextBlob, nil
			if pt := *must(c.Decrypt(dec)).Response.Plaintext; pt != *d.Plaintext {
				t.Fatal("data key does not decrypt")
			}
		})
	}
	lk := tckms.NewListKeysRequest()
	lk.Offset, lk.Limit = common.Uint64Ptr(1), common.Uint64Ptr(2)
	list := must(c.ListKeys(lk)).Response
	if *list.TotalCount != 4 || len(list.Keys) != 2 {
		t.Fatalf("ListKeys: %s", must(json.Marshal(list)))
	}
	id := *list.Keys[0].KeyId
	dis := tckms.NewDisableKeyRequest()
	dis.KeyId = common.StringPtr(id)
	must(c.DisableKey(dis))
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = common.StringPtr(id), common.StringPtr("eA==")
	_, err := c.Encrypt(enc)
	tcError(t, err, "ResourceUnavailable.CmkDisabled")
	en := tckms.NewEnableKeyRequest()
	en.KeyId = common.StringPtr(id)
	must(c.EnableKey(en))
	// As Tencent Cloud documents: an Enabled key is disabled before its
	// deletion is scheduled, and a cancelled deletion leaves it Disabled.
	sd := tckms.NewScheduleKeyDeletionRequest()
	sd.KeyId, sd.PendingWindowInDays = common.StringPtr(id), common.Uint64Ptr(7)
	_, err = c.ScheduleKeyDeletion(sd)
	tcError(t, err, "ResourceUnavailable.CmkStateNotSupport")
	must(c.DisableKey(dis))
	if r := must(c.ScheduleKeyDeletion(sd)).Response; *r.DeletionDate < uint64(time.Now().Add(6*24*time.Hour).Unix()) {
		t.Fatalf("DeletionDate %d", *r.DeletionDate)
	}
	dk := tckms.NewDescribeKeyRequest()
	dk.KeyId = common.StringPtr(id)
	if st := *must(c.DescribeKey(dk)).Response.KeyMetadata.KeyState; st != "PendingDelete" {
		t.Fatalf("state %s, want PendingDelete", st)
	}
	cd := tckms.NewCancelKeyDeletionRequest()
	cd.KeyId = common.StringPtr(id)
	must(c.CancelKeyDeletion(cd))
	if st := *must(c.DescribeKey(dk)).Response.KeyMetadata.KeyState; st != "Disabled" {
		t.Fatalf("after CancelKeyDeletion: %s, want Disabled", st)
	}
	del := tckms.NewDeleteImportedKeyMaterialRequest()
	del.KeyId = common.StringPtr(id)
	must(c.DeleteImportedKeyMaterial(del))
	_, err = c.Encrypt(enc)
	tcError(t, err, "ResourceUnavailable.CmkStateNotSupport")
}

func TestTencentRefusals(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--import-token-ttl", "3s")
	c := newTencent(t, s, s.sk)
	kmsKey, ext, soft := tcCreate(c, 1, false), tcCreate(c, 2, true), tcCreate(c, 2, false)
	material := bytes.Repeat([]byte{8}, 32)

	tcError(t, tcImport(t, c, kmsKey, "RSAES_OAEP_SHA_256", material), "UnsupportedOperation.NotExternalCmk")
	tcError(t, tcImport(t, c, "00000000-0000-4000-8000-000000000000", "RSAES_OAEP_SHA_256", material), "ResourceUnavailable.CmkNotFound")
	tcError(t, tcImport(t, c, "not-a-key-id", "RSAES_OAEP_SHA_256", material), "InvalidParameterValue.InvalidKeyId")
	tcError(t, tcImport(t, c, soft, "SM2PKE", material), "UnsupportedOperation")
	tcError(t, tcImport(t, c, ext, "RSAES_OAEP_SHA_256", material[:16]), "InvalidParameter.DecryptMaterialError")
	if err := tcImport(t, c, ext, "SM2PKE", material); err != nil {
		t.Fatal(err)
	}
	tcError(t, tcImport(t, c, ext, "RSAES_OAEP_SHA_1", bytes.Repeat([]byte{9}, 32)), "InvalidParameterValue.MaterialNotMatch")

	gp := tckms.NewGetParametersForImportRequest()
	gp.KeyId, gp.WrappingAlgorithm, gp.WrappingKeySpec = common.StringPtr(soft), common.StringPtr("RSAES_OAEP_SHA_256"), common.StringPtr("RSA_2048")
	p := must(c.GetParametersForImport(gp)).Response
	im := tckms.NewImportKeyMaterialRequest()
	im.KeyId, im.ImportToken = common.StringPtr(soft), p.ImportToken
	im.EncryptedKeyMaterial = common.StringPtr(base64.StdEncoding.EncodeToString(must(byok.Wrap(must(base64.StdEncoding.DecodeString(*p.PublicKey)), "RSAES_OAEP_SHA_256", material))))
	time.Sleep(3100 * time.Millisecond)
	_, err := c.ImportKeyMaterial(im)
	tcError(t, err, "ResourceUnavailable.TokenExpired")

	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = common.StringPtr(soft), common.StringPtr("eA==")
	_, err = c.Encrypt(enc)
	tcError(t, err, "ResourceUnavailable.CmkStateNotSupport")

	_, err = newTencent(t, s, "wrong-"+s.sk).ListKeys(tckms.NewListKeysRequest())
	tcError(t, err, "AuthFailure.SignatureFailure")
	s2 := *s
	s2.ak = "KPAKNOSUCHKEY00000000000"
	_, err = newTencent(t, &s2, s.sk).ListKeys(tckms.NewListKeysRequest())
	tcError(t, err, "AuthFailure.SecretIdNotFound")

	// What the SDK never sends: each still answered with HTTP 200 and a Response.
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		code    string
	}{
		{"stale timestamp", map[string]string{"X-TC-Timestamp": strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)}, `{}`, "AuthFailure.SignatureExpire"},
		{"unknown action", map[string]string{"X-TC-Action": "FrobnicateKey"}, `{}`, "InvalidAction"},
		{"not JSON", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `Limit=1`, "InvalidParameter"},
		{"wrong type", nil, `{"Limit":"ten"}`, "InvalidParameter"},
		{"unsigned payload", map[string]string{"X-TC-Content-SHA256": "UNSIGNED-PAYLOAD"}, `{}`, "AuthFailure.SignatureFailure"},
		{"other version", map[string]string{"X-TC-Version": "2017-03-12"}, `{}`, "NoSuchVersion"},
		{"no Authorization", map[string]string{"Authorization": ""}, `{}`, "AuthFailure.InvalidAuthorization"},
		{"body over 64 KiB", nil, `{"Alias":"` + strings.Repeat("a", 70<<10) + `"}`, "RequestSizeLimitExceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawTC3(t, s, "ListKeys", tc.body, tc.headers)
			if resp.status != 200 || resp.code != tc.code || resp.requestID == "" {
				t.Fatalf("got %d %q (request id %q), want 200 %s\n%s", resp.status, resp.code, resp.requestID, tc.code, resp.raw)
			}
		})
	}
}

// One key set, two dialects: made through one, used through the other,
// each showing its own names.
func TestCrossDialect(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	tc := newTencent(t, s, s.sk)
	ali := newV1(t, s, s.sk)

	id := tcCreate(tc, 2, false)
	if err := tcImport(t, tc, id, "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	dk := kms.CreateDescribeKeyRequest()
	ali.prep(dk.RpcRequest)
	dk.KeyId = id
	md := must(ali.c.DescribeKey(dk)).KeyMetadata
	if md.KeyState != "Enabled" || md.Origin != "EXTERNAL" || md.KeyUsage != "ENCRYPT/DECRYPT" {
		t.Fatalf("Tencent-made key through Aliyun: %+v", md)
	}
	enc := kms.CreateEncryptRequest()
	ali.prep(enc.RpcRequest)
	enc.KeyId, enc.Plaintext = id, base64.StdEncoding.EncodeToString([]byte("both"))
	blob := must(ali.c.Encrypt(enc)).CiphertextBlob
	dec := tckms.NewDecryptRequest()
	dec.CiphertextBlob = common.StringPtr(blob)
	if pt := *must(tc.Decrypt(dec)).Response.Plaintext; pt != base64.StdEncoding.EncodeToString([]byte("both")) {
		t.Fatalf("Aliyun blob through Tencent: %s", pt)
	}

	aliID, _ := ali.byok("HSM", "SM2PKE")
	sd := kms.CreateScheduleKeyDeletionRequest()
	ali.prep(sd.RpcRequest)
	sd.KeyId, sd.PendingWindowInDays = aliID, "30"
	must(ali.c.ScheduleKeyDeletion(sd))
	tdk := tckms.NewDescribeKeyRequest()
	tdk.KeyId = common.StringPtr(aliID)
	tmd := must(tc.DescribeKey(tdk)).Response.KeyMetadata
	if *tmd.KeyState != "PendingDelete" || *tmd.Origin != "EXTERNAL" || *tmd.HsmClusterId == "" || *tmd.DeletionDate == 0 {
		t.Fatalf("Aliyun-made key through Tencent: %s", must(json.Marshal(tmd)))
	}
	kmsKey := tcCreate(tc, 1, false)
	dk.KeyId = kmsKey
	if o := must(ali.c.DescribeKey(dk)).KeyMetadata.Origin; o != "Aliyun_KMS" {
		t.Fatalf("Origin through Aliyun: %s", o)
	}
	tdk.KeyId = common.StringPtr(kmsKey)
	if o := *must(tc.DescribeKey(tdk)).Response.KeyMetadata.Origin; o != "TENCENT_KMS" {
		t.Fatalf("Origin through Tencent: %s", o)
	}
}

type tc3Response struct {
	status          int
	code, requestID string
	raw             string
}

// signedTC3 builds a request signed as the Go SDK signs, with headers
// overridden afterwards (so the overrides are what a client got wrong).
func signedTC3(t *testing.T, s *server, action, body string, override map[string]string) *http.Request {
	now := time.Now()
	stamp := strconv.FormatInt(now.Unix(), 10)
	auth := signers.TC3(s.ak, s.sk, "kms", s.addr, stamp, now.UTC().Format("2006-01-02"), body)
	req := must(http.NewRequest("POST", "http://"+s.addr+"/", nil))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", "2019-01-18")
	req.Header.Set("X-TC-Timestamp", stamp)
	req.Header.Set("Authorization", auth)
	for k, v := range override {
		req.Header.Set(k, v)
	}
	return req
}

func sendTC3(t *testing.T, req *http.Request, body string) tc3Response {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(strings.NewReader(body))
	resp := must(http.DefaultClient.Do(r))
	defer resp.Body.Close()
	raw := must(io.ReadAll(resp.Body))
	var out struct {
		Response struct {
			Error     struct{ Code string }
			RequestId string
		}
	}
	_ = json.Unmarshal(raw, &out)
	return tc3Response{resp.StatusCode, out.Response.Error.Code, out.Response.RequestId, string(raw)}
}

func rawTC3(t *testing.T, s *server, action, body string, override map[string]string) tc3Response {
	return sendTC3(t, signedTC3(t, s, action, body, override), body)
}

// ListKeyDetail's documented filters, each value: "ALL" (and 0) mean no
// filter, as tencentcloud_kms_keys sends them; Origin is case-sensitive;
// an omitted KeyUsage means ENCRYPT_DECRYPT; Role 1 (keys other cloud
// products made) lists none; SearchKeyAlias matches key ids and aliases;
// values outside the table are refused.
func TestTencentListKeyDetailFilters(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newTencent(t, s, s.sk)
	keyReq := func(id string) *string { return common.StringPtr(id) }
	enabled := tcCreate(c, 1, false)
	disabled := tcCreate(c, 1, false)
	dis := tckms.NewDisableKeyRequest()
	dis.KeyId = keyReq(disabled)
	must(c.DisableKey(dis))
	pending := tcCreate(c, 1, false)
	dis.KeyId = keyReq(pending)
	must(c.DisableKey(dis)) // Tencent Cloud schedules the deletion of a Disabled key
	sd := tckms.NewScheduleKeyDeletionRequest()
	sd.KeyId, sd.PendingWindowInDays = keyReq(pending), common.Uint64Ptr(7)
	must(c.ScheduleKeyDeletion(sd))
	archived := tcCreate(c, 1, false)
	ar := tckms.NewArchiveKeyRequest()
	ar.KeyId = keyReq(archived)
	must(c.ArchiveKey(ar))
	external := tcCreate(c, 2, false)
	all := []string{external, archived, pending, disabled, enabled} // newest first

	str, num := common.StringPtr, common.Uint64Ptr
	for _, tc := range []struct {
		name string
		set  func(r *tckms.ListKeyDetailRequest)
		want []string // nil: refused
	}{
		{"no filter", func(r *tckms.ListKeyDetailRequest) {}, all},
		{"Origin ALL", func(r *tckms.ListKeyDetailRequest) { r.Origin = str("ALL") }, all},
		{"Origin TENCENT_KMS", func(r *tckms.ListKeyDetailRequest) { r.Origin = str("TENCENT_KMS") }, all[1:]},
		{"Origin EXTERNAL", func(r *tckms.ListKeyDetailRequest) { r.Origin = str("EXTERNAL") }, []string{external}},
		{"Origin all (case-sensitive)", func(r *tckms.ListKeyDetailRequest) { r.Origin = str("all") }, nil},
		{"KeyUsage ALL", func(r *tckms.ListKeyDetailRequest) { r.KeyUsage = str("ALL") }, all},
		{"KeyUsage ENCRYPT_DECRYPT", func(r *tckms.ListKeyDetailRequest) { r.KeyUsage = str("ENCRYPT_DECRYPT") }, all},
		{"KeyUsage asymmetric", func(r *tckms.ListKeyDetailRequest) { r.KeyUsage = str("ASYMMETRIC_DECRYPT_RSA_2048") }, []string{}},
		{"KeyUsage unknown", func(r *tckms.ListKeyDetailRequest) { r.KeyUsage = str("SIGN") }, nil},
		{"KeyState 0", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(0) }, all},
		{"KeyState 1 Enabled", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(1) }, []string{enabled}},
		{"KeyState 2 Disabled", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(2) }, []string{disabled}},
		{"KeyState 3 PendingDelete", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(3) }, []string{pending}},
		{"KeyState 4 PendingImport", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(4) }, []string{external}},
		{"KeyState 5 Archived", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(5) }, []string{archived}},
		{"KeyState 6", func(r *tckms.ListKeyDetailRequest) { r.KeyState = num(6) }, nil},
		{"Role 0", func(r *tckms.ListKeyDetailRequest) { r.Role = num(0) }, all},
		{"Role 1", func(r *tckms.ListKeyDetailRequest) { r.Role = num(1) }, []string{}},
		{"Role 2", func(r *tckms.ListKeyDetailRequest) { r.Role = num(2) }, nil},
		{"OrderType 1", func(r *tckms.ListKeyDetailRequest) { r.OrderType = num(1) }, []string{enabled, disabled, pending, archived, external}},
		{"OrderType 2", func(r *tckms.ListKeyDetailRequest) { r.OrderType = num(2) }, nil},
		{"SearchKeyAlias by key id", func(r *tckms.ListKeyDetailRequest) { r.SearchKeyAlias = str(disabled[:13]) }, []string{disabled}},
		{"the data source's defaults", func(r *tckms.ListKeyDetailRequest) {
			r.Origin, r.KeyUsage, r.KeyState, r.Role, r.OrderType = str("ALL"), str("ALL"), num(0), num(0), num(0)
		}, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tckms.NewListKeyDetailRequest()
			r.Limit = num(100)
			tc.set(r)
			res, err := c.ListKeyDetail(r)
			if tc.want == nil {
				tcError(t, err, "InvalidParameter")
				return
			}
			var got []string
			for _, m := range must(res, err).Response.KeyMetadatas {
				got = append(got, *m.KeyId)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || *res.Response.TotalCount != uint64(len(tc.want)) {
				t.Fatalf("got %v (total %d), want %v", got, *res.Response.TotalCount, tc.want)
			}
		})
	}
	page := tckms.NewListKeyDetailRequest()
	page.Offset, page.Limit = num(1), num(2)
	if res := must(c.ListKeyDetail(page)).Response; *res.TotalCount != 5 || len(res.KeyMetadatas) != 2 || *res.KeyMetadatas[0].KeyId != all[1] {
		t.Fatalf("Offset 1, Limit 2: %d of %d", len(res.KeyMetadatas), *res.TotalCount)
	}
	lk := tckms.NewListKeysRequest()
	lk.Role = num(1)
	if res := must(c.ListKeys(lk)).Response; *res.TotalCount != 0 || len(res.Keys) != 0 {
		t.Fatalf("ListKeys Role 1: %d keys", *res.TotalCount)
	}
}
