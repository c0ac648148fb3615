package test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms3 "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/keyport-kms/keyport/client/byok"
)

// v1 is the classic Go SDK (RPC signature v1), pointed at Keyport as the
// reference says: scheme and domain on each request.
type v1 struct {
	t      testing.TB
	c      *kms.Client
	addr   string
	format string
}

func newV1(t testing.TB, s *server, secret string) *v1 {
	c, err := kms.NewClientWithAccessKey("cn-hangzhou", s.ak, secret)
	if err != nil {
		t.Fatal(err)
	}
	return &v1{t: t, c: c, addr: s.addr, format: "JSON"}
}

func (v *v1) prep(r *requests.RpcRequest) {
	r.Scheme, r.Domain, r.AcceptFormat = "http", v.addr, v.format
}

// must returns v, or on err ends the test through catch, which every test
// and subtest defers: SDK calls return two values, and Go passes those only
// to a function that takes exactly them.
func must[V any](v V, err error) V {
	if err != nil {
		panic(failure{err})
	}
	return v
}

type failure struct{ err error }

// catch turns must's panic into a test failure; cleanups still run.
func catch(t testing.TB) {
	if r := recover(); r != nil {
		if f, ok := r.(failure); ok {
			t.Fatal(f.err)
		}
		panic(r)
	}
}

// serverError asserts the SDK's error code and HTTP status.
func serverError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
	if se.HttpStatus() != status || se.ErrorCode() != code {
		t.Fatalf("got %d %s (%s), want %d %s", se.HttpStatus(), se.ErrorCode(), se.Message(), status, code)
	}
}

// sm2Parameters makes an EXTERNAL HSM-level key and asks for SM2
// wrapping parameters for it.
func (v *v1) sm2Parameters() error {
	ck := kms.CreateCreateKeyRequest()
	v.prep(ck.RpcRequest)
	ck.Origin, ck.ProtectionLevel = "EXTERNAL", "HSM"
	gp := kms.CreateGetParametersForImportRequest()
	v.prep(gp.RpcRequest)
	gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = must(v.c.CreateKey(ck)).KeyMetadata.KeyId, "EC_SM2", "SM2PKE"
	_, err := v.c.GetParametersForImport(gp)
	return err
}

// byokV1 runs CreateKey → GetParametersForImport → wrap → ImportKeyMaterial
// through the v1 SDK and returns the key id and material.
func (v *v1) byok(level, alg string) (string, []byte) {
	t := v.t
	t.Helper()
	ck := kms.CreateCreateKeyRequest()
	v.prep(ck.RpcRequest)
	ck.Origin, ck.ProtectionLevel = "EXTERNAL", level
	created := must(v.c.CreateKey(ck))
	if created.KeyMetadata.KeyState != "PendingImport" || created.KeyMetadata.Origin != "EXTERNAL" || created.KeyMetadata.ProtectionLevel != level {
		t.Fatalf("CreateKey: %+v", created.KeyMetadata)
	}
	id := created.KeyMetadata.KeyId
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	gp := kms.CreateGetParametersForImportRequest()
	v.prep(gp.RpcRequest)
	gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = id, byok.Spec(alg), alg
	params := must(v.c.GetParametersForImport(gp))
	if params.KeyId != id || params.TokenExpireTime == "" || params.ImportToken == "" {
		t.Fatalf("GetParametersForImport: %+v", params)
	}
	pub := must(base64.StdEncoding.DecodeString(params.PublicKey))
	wrapped := must(byok.Wrap(pub, alg, material))
	im := kms.CreateImportKeyMaterialRequest()
	v.prep(im.RpcRequest)
	im.KeyId, im.ImportToken, im.EncryptedKeyMaterial = id, params.ImportToken, base64.StdEncoding.EncodeToString(wrapped)
	must(v.c.ImportKeyMaterial(im))
	return id, material
}

func TestAliyunV1SDK(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newV1(t, s, s.sk)
	for _, tc := range []struct{ level, alg string }{{"SOFTWARE", "RSAES_PKCS1_V1_5"}, {"HSM", "RSAES_OAEP_SHA_256"}, {"HSM", "SM2PKE"}} {
		t.Run(tc.level+"/"+tc.alg, func(t *testing.T) {
			defer catch(t)
			c.t = t
			id, _ := c.byok(tc.level, tc.alg)
			dk := kms.CreateDescribeKeyRequest()
			c.prep(dk.RpcRequest)
			dk.KeyId = id
			md := must(c.c.DescribeKey(dk)).KeyMetadata
			if md.KeyState != "Enabled" || md.KeySpec != "Aliyun_AES_256" || md.Arn == "" || md.CreationDate == "" {
				t.Fatalf("DescribeKey: %+v", md)
			}
			enc := kms.CreateEncryptRequest()
			c.prep(enc.RpcRequest)
			enc.KeyId, enc.Plaintext, enc.EncryptionContext = id, base64.StdEncoding.EncodeToString([]byte("hello")), `{"app":"test","env":"ci"}`
			ct := must(c.c.Encrypt(enc))
			dec := kms.CreateDecryptRequest()
			c.prep(dec.RpcRequest)
			dec.CiphertextBlob, dec.EncryptionContext = ct.CiphertextBlob, `{"env":"ci","app":"test"}`
			pt := must(c.c.Decrypt(dec))
			if pt.KeyId != id || pt.Plaintext != base64.StdEncoding.EncodeToString([]byte("hello")) {
				t.Fatalf("Decrypt: %+v", pt)
			}
			gdk := kms.CreateGenerateDataKeyRequest()
			c.prep(gdk.RpcRequest)
			gdk.KeyId, gdk.EncryptionContext = id, `{"app":"test"}`
			gdk.NumberOfBytes = requests.NewInteger(24)
			data := must(c.c.GenerateDataKey(gdk))
			dec.CiphertextBlob, dec.EncryptionContext = data.CiphertextBlob, `{"app":"test"}`
			if got := must(c.c.Decrypt(dec)); got.Plaintext != data.Plaintext || len(must(base64.StdEncoding.DecodeString(data.Plaintext))) != 24 {
				t.Fatalf("data key: %+v vs %+v", got, data)
			}
		})
	}
	c.t = t
	lk := kms.CreateListKeysRequest()
	c.prep(lk.RpcRequest)
	lk.PageSize = requests.NewInteger(2)
	list := must(c.c.ListKeys(lk))
	if list.TotalCount != 3 || len(list.Keys.Key) != 2 || list.PageNumber != 1 || list.PageSize != 2 {
		t.Fatalf("ListKeys: %+v", list)
	}
	// Lifecycle through the SDK.
	id := list.Keys.Key[0].KeyId
	dis := kms.CreateDisableKeyRequest()
	c.prep(dis.RpcRequest)
	dis.KeyId = id
	must(c.c.DisableKey(dis))
	en := kms.CreateEnableKeyRequest()
	c.prep(en.RpcRequest)
	en.KeyId = id
	must(c.c.EnableKey(en))
	sd := kms.CreateScheduleKeyDeletionRequest()
	c.prep(sd.RpcRequest)
	sd.KeyId, sd.PendingWindowInDays = id, requests.NewInteger(7)
	must(c.c.ScheduleKeyDeletion(sd))
	cd := kms.CreateCancelKeyDeletionRequest()
	c.prep(cd.RpcRequest)
	cd.KeyId = id
	must(c.c.CancelKeyDeletion(cd))
	dm := kms.CreateDeleteKeyMaterialRequest()
	c.prep(dm.RpcRequest)
	dm.KeyId = id
	must(c.c.DeleteKeyMaterial(dm))
	dk := kms.CreateDescribeKeyRequest()
	c.prep(dk.RpcRequest)
	dk.KeyId = id
	if st := must(c.c.DescribeKey(dk)).KeyMetadata.KeyState; st != "PendingImport" {
		t.Fatalf("after DeleteKeyMaterial: %s", st)
	}

	// Format=XML: the SDK parses the XML bodies into the same structs.
	c.format = "XML"
	if md := must(c.c.DescribeKey(dk)).KeyMetadata; md.KeyId != id || md.KeyState != "PendingImport" {
		t.Fatalf("XML DescribeKey: %+v", md)
	}
	if list := must(c.c.ListKeys(lk)); list.TotalCount != 3 || len(list.Keys.Key) != 2 {
		t.Fatalf("XML ListKeys: %+v", list)
	}
	dk.KeyId = "00000000-0000-4000-8000-000000000000"
	_, err := c.c.DescribeKey(dk)
	serverError(t, err, 404, "Forbidden.KeyNotFound")
}

// The darabonba SDK signs with ACS3-HMAC-SHA256.
func TestAliyunACS3SDK(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := must(kms3.NewClient(&openapi.Config{
		AccessKeyId: tea.String(s.ak), AccessKeySecret: tea.String(s.sk),
		Endpoint: tea.String(s.addr), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou"),
	}))
	for _, tc := range []struct{ level, alg string }{{"SOFTWARE", "RSAES_OAEP_SHA_1"}, {"HSM", "SM2PKE"}, {"HSM", "RSAES_PKCS1_V1_5"}} {
		t.Run(tc.level+"/"+tc.alg, func(t *testing.T) {
			defer catch(t)
			created := must(c.CreateKey(&kms3.CreateKeyRequest{Origin: tea.String("EXTERNAL"), ProtectionLevel: tea.String(tc.level)}))
			id := tea.StringValue(created.Body.KeyMetadata.KeyId)
			params := must(c.GetParametersForImport(&kms3.GetParametersForImportRequest{
				KeyId: tea.String(id), WrappingKeySpec: tea.String(byok.Spec(tc.alg)), WrappingAlgorithm: tea.String(tc.alg),
			})).Body
			material := bytes.Repeat([]byte{0x11}, 32)
			pub := must(base64.StdEncoding.DecodeString(tea.StringValue(params.PublicKey)))
			wrapped := must(byok.Wrap(pub, tc.alg, material))
			must(c.ImportKeyMaterial(&kms3.ImportKeyMaterialRequest{
				KeyId: tea.String(id), ImportToken: params.ImportToken, EncryptedKeyMaterial: tea.String(base64.StdEncoding.EncodeToString(wrapped)),
			}))
			if st := tea.StringValue(must(c.DescribeKey(&kms3.DescribeKeyRequest{KeyId: tea.String(id)})).Body.KeyMetadata.KeyState); st != "Enabled" {
				t.Fatalf("state %s", st)
			}
			ec := map[string]interface{}{"app": "acs3"}
			enc := must(c.Encrypt(&kms3.EncryptRequest{KeyId: tea.String(id), Plaintext: tea.String(base64.StdEncoding.EncodeToString([]byte("hi"))), EncryptionContext: ec}))
			dec := must(c.Decrypt(&kms3.DecryptRequest{CiphertextBlob: enc.Body.CiphertextBlob, EncryptionContext: ec}))
			if tea.StringValue(dec.Body.Plaintext) != base64.StdEncoding.EncodeToString([]byte("hi")) {
				t.Fatalf("decrypt: %v", dec.Body)
			}
			dk := must(c.GenerateDataKey(&kms3.GenerateDataKeyRequest{KeyId: tea.String(id), KeySpec: tea.String("AES_128"), EncryptionContext: ec}))
			back := must(c.Decrypt(&kms3.DecryptRequest{CiphertextBlob: dk.Body.CiphertextBlob, EncryptionContext: ec}))
			if tea.StringValue(back.Body.Plaintext) != tea.StringValue(dk.Body.Plaintext) {
				t.Fatal("data key does not decrypt")
			}
		})
	}
	_, err := c.DescribeKey(&kms3.DescribeKeyRequest{KeyId: tea.String("00000000-0000-4000-8000-000000000000")})
	var se *tea.SDKError
	if !errors.As(err, &se) || tea.StringValue(se.Code) != "Forbidden.KeyNotFound" || tea.IntValue(se.StatusCode) != 404 {
		t.Fatalf("unknown key through ACS3: %v", err)
	}
	bad := must(kms3.NewClient(&openapi.Config{
		AccessKeyId: tea.String(s.ak), AccessKeySecret: tea.String("wrong" + s.sk),
		Endpoint: tea.String(s.addr), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou"),
	}))
	_, err = bad.ListKeys(&kms3.ListKeysRequest{})
	if !errors.As(err, &se) || tea.StringValue(se.Code) != "IncompleteSignature" || tea.IntValue(se.StatusCode) != 400 {
		t.Fatalf("wrong secret through ACS3: %v", err)
	}
}
