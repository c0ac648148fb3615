package test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms3 "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client/byok"
)

// acs3Error asserts a darabonba SDK error's code and HTTP status.
func acs3Error(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) || tea.StringValue(se.Code) != code || tea.IntValue(se.StatusCode) != status {
		t.Fatalf("got %v, want %d %s", err, status, code)
	}
}

// TestAliyunAPISurface: the typed darabonba SDK parses every new action's
// answer, and each documented code and limit comes back as the cloud's.
func TestAliyunAPISurface(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := must(kms3.NewClient(&openapi.Config{
		AccessKeyId: tea.String(s.ak), AccessKeySecret: tea.String(s.sk),
		Endpoint: tea.String(s.addr), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou"),
	}))
	id := tea.StringValue(must(c.CreateKey(&kms3.CreateKeyRequest{Description: tea.String("surface")})).Body.KeyMetadata.KeyId)
	arn := "acs:kms:cn-hangzhou:1:key/" + id
	// DescribeRegions, which the aliyun CLI and tools ask first: the region served.
	if r := must(c.DescribeRegions()).Body.Regions.Region; len(r) != 1 || tea.StringValue(r[0].RegionId) != "cn-hangzhou" {
		t.Fatalf("DescribeRegions: %v", r)
	}

	// Tags, both families, read back through both.
	must(c.TagResources(&kms3.TagResourcesRequest{RegionId: tea.String("cn-hangzhou"), ResourceType: tea.String("key"), ResourceId: []*string{tea.String(id)},
		Tag: []*kms3.TagResourcesRequestTag{{Key: tea.String("a"), Value: tea.String("1")}}}))
	must(c.TagResource(&kms3.TagResourceRequest{KeyId: tea.String(id), Tags: tea.String(`[{"TagKey":"b","TagValue":"2"}]`)}))
	tr := must(c.ListTagResources(&kms3.ListTagResourcesRequest{RegionId: tea.String("cn-hangzhou"), ResourceType: tea.String("key"), ResourceId: []*string{tea.String(id)}})).Body
	if n := len(tr.TagResources.TagResource); n != 2 || tea.StringValue(tr.TagResources.TagResource[0].ResourceId) != id {
		t.Fatalf("ListTagResources: %v", tr)
	}
	must(c.UntagResource(&kms3.UntagResourceRequest{KeyId: tea.String(id), TagKeys: tea.String(`["a"]`)}))
	if rt := must(c.ListResourceTags(&kms3.ListResourceTagsRequest{KeyId: tea.String(id)})).Body.Tags.Tag; len(rt) != 1 || tea.StringValue(rt[0].TagKey) != "b" {
		t.Fatalf("ListResourceTags after UntagResource: %v", rt)
	}
	_, err := c.TagResource(&kms3.TagResourceRequest{KeyId: tea.String(id), Tags: tea.String(`[{"TagKey":"acs:x","TagValue":"reserved"}]`)})
	acs3Error(t, err, 400, "InvalidParameter")

	// Descriptions: 1,024 bytes at most.
	must(c.UpdateKeyDescription(&kms3.UpdateKeyDescriptionRequest{KeyId: tea.String(id), Description: tea.String(strings.Repeat("d", 1024))}))
	_, err = c.UpdateKeyDescription(&kms3.UpdateKeyDescriptionRequest{KeyId: tea.String(id), Description: tea.String(strings.Repeat("d", 1025))})
	acs3Error(t, err, 400, "InvalidParameter")

	// Deletion protection by ProtectedResourceArn, as the SDK names it.
	must(c.SetDeletionProtection(&kms3.SetDeletionProtectionRequest{ProtectedResourceArn: tea.String(arn), EnableDeletionProtection: tea.Bool(true)}))
	_, err = c.ScheduleKeyDeletion(&kms3.ScheduleKeyDeletionRequest{KeyId: tea.String(id), PendingWindowInDays: tea.Int32(7)})
	acs3Error(t, err, 409, "Rejected.StateModifiedFailed")
	if md := must(c.DescribeKey(&kms3.DescribeKeyRequest{KeyId: tea.String(id)})).Body.KeyMetadata; tea.StringValue(md.DeletionProtection) != "Enabled" {
		t.Fatalf("DeletionProtection %s", tea.StringValue(md.DeletionProtection))
	}
	must(c.SetDeletionProtection(&kms3.SetDeletionProtectionRequest{ProtectedResourceArn: tea.String(arn), EnableDeletionProtection: tea.Bool(false)}))

	// State changes the state forbids; CancelKeyDeletion of a key not pending.
	ext := tea.StringValue(must(c.CreateKey(&kms3.CreateKeyRequest{Origin: tea.String("EXTERNAL")})).Body.KeyMetadata.KeyId)
	_, err = c.EnableKey(&kms3.EnableKeyRequest{KeyId: tea.String(ext)})
	acs3Error(t, err, 409, "Rejected.StateModifiedFailed")
	_, err = c.CancelKeyDeletion(&kms3.CancelKeyDeletionRequest{KeyId: tea.String(id)})
	acs3Error(t, err, 409, "Rejected.StateModifiedFailed")
	// DeleteKeyMaterial on a key pending deletion succeeds; the key stays so.
	must(c.ScheduleKeyDeletion(&kms3.ScheduleKeyDeletionRequest{KeyId: tea.String(ext), PendingWindowInDays: tea.Int32(7)}))
	must(c.DeleteKeyMaterial(&kms3.DeleteKeyMaterialRequest{KeyId: tea.String(ext)}))
	if st := tea.StringValue(must(c.DescribeKey(&kms3.DescribeKeyRequest{KeyId: tea.String(ext)})).Body.KeyMetadata.KeyState); st != "PendingDeletion" {
		t.Fatalf("after DeleteKeyMaterial while pending deletion: %s", st)
	}

	// DryRun checks without doing: success is DryRunOperation, a refusal is
	// the refusal.
	pt := tea.String(base64.StdEncoding.EncodeToString([]byte("dry")))
	_, err = c.Encrypt(&kms3.EncryptRequest{KeyId: tea.String(id), Plaintext: pt, DryRun: tea.String("true")})
	acs3Error(t, err, 400, "DryRunOperation")
	_, err = c.Encrypt(&kms3.EncryptRequest{KeyId: tea.String(ext), Plaintext: pt, DryRun: tea.String("true")})
	acs3Error(t, err, 409, "Rejected.PendingDeletion")
	enc := must(c.Encrypt(&kms3.EncryptRequest{KeyId: tea.String(id), Plaintext: pt})).Body
	_, err = c.Decrypt(&kms3.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, DryRun: tea.String("true")})
	acs3Error(t, err, 400, "DryRunOperation")

	// GenerateDataKeyWithoutPlaintext and ReEncrypt, to another key through
	// an alias.
	other := tea.StringValue(must(c.CreateKey(&kms3.CreateKeyRequest{ProtectionLevel: tea.String("HSM")})).Body.KeyMetadata.KeyId)
	must(c.CreateAlias(&kms3.CreateAliasRequest{AliasName: tea.String("alias/other"), KeyId: tea.String(other)}))
	wp := must(c.GenerateDataKeyWithoutPlaintext(&kms3.GenerateDataKeyWithoutPlaintextRequest{KeyId: tea.String("alias/other"), NumberOfBytes: tea.Int32(24)})).Body
	if dk := must(c.Decrypt(&kms3.DecryptRequest{CiphertextBlob: wp.CiphertextBlob})).Body; len(must(base64.StdEncoding.DecodeString(tea.StringValue(dk.Plaintext)))) != 24 || tea.StringValue(wp.KeyId) != other {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: %v", wp)
	}
	re := must(c.ReEncrypt(&kms3.ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: tea.String("alias/other")})).Body
	if tea.StringValue(re.KeyId) != other {
		t.Fatalf("ReEncrypt: %v", re)
	}
	if back := must(c.Decrypt(&kms3.DecryptRequest{CiphertextBlob: re.CiphertextBlob})).Body; tea.StringValue(back.Plaintext) != tea.StringValue(pt) || tea.StringValue(back.KeyId) != other {
		t.Fatalf("ReEncrypt result decrypts to %v", back)
	}
	must(c.DisableKey(&kms3.DisableKeyRequest{KeyId: tea.String("alias/other")}))
	must(c.EnableKey(&kms3.EnableKeyRequest{KeyId: tea.String("alias/other")}))

	// BYOK through an alias: the token is bound to the key the alias names.
	// (No alias points at a key pending deletion: Rejected.StateModifiedFailed.)
	_, err = c.CreateAlias(&kms3.CreateAliasRequest{AliasName: tea.String("alias/byok"), KeyId: tea.String(ext)})
	acs3Error(t, err, 409, "Rejected.StateModifiedFailed")
	must(c.CancelKeyDeletion(&kms3.CancelKeyDeletionRequest{KeyId: tea.String(ext)}))
	must(c.CreateAlias(&kms3.CreateAliasRequest{AliasName: tea.String("alias/byok"), KeyId: tea.String(ext)}))
	gp := must(c.GetParametersForImport(&kms3.GetParametersForImportRequest{KeyId: tea.String("alias/byok"),
		WrappingKeySpec: tea.String("RSA_2048"), WrappingAlgorithm: tea.String("RSAES_OAEP_SHA_256")})).Body
	wrapped := must(byok.Wrap(must(base64.StdEncoding.DecodeString(tea.StringValue(gp.PublicKey))), "RSAES_OAEP_SHA_256", bytes.Repeat([]byte{9}, 32)))
	must(c.ImportKeyMaterial(&kms3.ImportKeyMaterialRequest{KeyId: tea.String("alias/byok"), ImportToken: gp.ImportToken,
		EncryptedKeyMaterial: tea.String(base64.StdEncoding.EncodeToString(wrapped))}))
	if st := tea.StringValue(must(c.DescribeKey(&kms3.DescribeKeyRequest{KeyId: tea.String(ext)})).Body.KeyMetadata.KeyState); st != "Enabled" {
		t.Fatalf("after an import through an alias: %s", st)
	}
	must(c.DeleteAlias(&kms3.DeleteAliasRequest{AliasName: tea.String("alias/byok")}))

	if al := must(c.ListAliases(&kms3.ListAliasesRequest{})).Body; len(al.Aliases.Alias) != 1 || tea.StringValue(al.Aliases.Alias[0].KeyId) != other {
		t.Fatalf("ListAliases: %v", al)
	}

	// Versions and rotation policy through the typed SDK.
	v := must(c.CreateKeyVersion(&kms3.CreateKeyVersionRequest{KeyId: tea.String(id)})).Body.KeyVersion
	if dv := must(c.DescribeKeyVersion(&kms3.DescribeKeyVersionRequest{KeyId: tea.String(id), KeyVersionId: v.KeyVersionId})).Body.KeyVersion; tea.StringValue(dv.KeyVersionId) != tea.StringValue(v.KeyVersionId) {
		t.Fatalf("DescribeKeyVersion: %v", dv)
	}
	if lv := must(c.ListKeyVersions(&kms3.ListKeyVersionsRequest{KeyId: tea.String(id)})).Body; len(lv.KeyVersions.KeyVersion) != 2 {
		t.Fatalf("ListKeyVersions: %v", lv)
	}
	_, err = c.UpdateRotationPolicy(&kms3.UpdateRotationPolicyRequest{KeyId: tea.String(id), EnableAutomaticRotation: tea.Bool(true), RotationInterval: tea.String("86400s")})
	acs3Error(t, err, 400, "InvalidParameter")
	must(c.UpdateRotationPolicy(&kms3.UpdateRotationPolicyRequest{KeyId: tea.String(id), EnableAutomaticRotation: tea.Bool(true), RotationInterval: tea.String("30d")}))
	md := must(c.DescribeKey(&kms3.DescribeKeyRequest{KeyId: tea.String(id)})).Body.KeyMetadata
	if tea.StringValue(md.AutomaticRotation) != "Enabled" || tea.StringValue(md.NextRotationDate) == "" || tea.StringValue(md.PrimaryKeyVersion) != tea.StringValue(v.KeyVersionId) {
		t.Fatalf("DescribeKey after UpdateRotationPolicy: %v", md)
	}
	_, err = c.SetKeyPolicy(&kms3.SetKeyPolicyRequest{KeyId: tea.String(id), Policy: tea.String(`{"Version":"1"}`), PolicyName: tea.String("default")})
	acs3Error(t, err, 400, "InvalidParameter") // no statements: not a policy
	policy := `{"Version":"1","Statement":[{"Effect":"Deny","Principal":{"RAM":["*"]},"Action":["kms:ScheduleKeyDeletion"],"Resource":["*"]}]}`
	must(c.SetKeyPolicy(&kms3.SetKeyPolicyRequest{KeyId: tea.String(id), Policy: tea.String(policy), PolicyName: tea.String("default")}))
	if got := tea.StringValue(must(c.GetKeyPolicy(&kms3.GetKeyPolicyRequest{KeyId: tea.String(id), PolicyName: tea.String("default")})).Body.Policy); got != policy {
		t.Fatalf("GetKeyPolicy: %s", got)
	}
}

// TestTencentAPISurface: each Tencent Cloud code and limit through the SDK.
func TestTencentAPISurface(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newTencent(t, s, s.sk)
	create := func(alias string) (string, error) {
		ck := tckms.NewCreateKeyRequest()
		ck.Alias = common.StringPtr(alias)
		res, err := c.CreateKey(ck)
		if err != nil {
			return "", err
		}
		return *res.Response.KeyId, nil
	}
	id := must(create("surface"))
	// CreateKey's Tags, read back through the tag service.
	tagged := tckms.NewCreateKeyRequest()
	tagged.Alias, tagged.Tags = common.StringPtr("tagged"), []*tckms.Tag{{TagKey: common.StringPtr("cost"), TagValue: common.StringPtr("42")}}
	taggedID := *must(c.CreateKey(tagged)).Response.KeyId
	if _, tags := readTencentKey(t, c, newTag(t, s), taggedID); tags["cost"] != "42" || len(tags) != 1 {
		t.Fatalf("tags given to CreateKey: %v", tags)
	}
	_, err := create("surface")
	tcError(t, err, "InvalidParameterValue.AliasAlreadyExists")
	_, err = create("bad alias!")
	tcError(t, err, "InvalidParameterValue.InvalidAlias")
	_, err = create("KMS-reserved")
	tcError(t, err, "InvalidParameterValue.InvalidAlias")
	other := must(create("other"))
	ua := tckms.NewUpdateAliasRequest()
	ua.KeyId, ua.Alias = common.StringPtr(other), common.StringPtr("surface")
	_, err = c.UpdateAlias(ua)
	tcError(t, err, "InvalidParameterValue.AliasAlreadyExists")
	ua.Alias = common.StringPtr("renamed")
	must(c.UpdateAlias(ua))
	if _, err := create("other"); err != nil { // the old name is free again
		t.Fatalf("the old alias stayed taken: %v", err)
	}

	ud := tckms.NewUpdateKeyDescriptionRequest()
	ud.KeyId, ud.Description = common.StringPtr(id), common.StringPtr(strings.Repeat("d", 1025))
	_, err = c.UpdateKeyDescription(ud)
	tcError(t, err, "InvalidParameter")

	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = common.StringPtr(id), common.StringPtr(base64.StdEncoding.EncodeToString(make([]byte, 4097)))
	_, err = c.Encrypt(enc)
	tcError(t, err, "InvalidParameterValue.InvalidPlaintext")
	enc.Plaintext = common.StringPtr(base64.StdEncoding.EncodeToString(make([]byte, 4096)))
	must(c.Encrypt(enc))

	sd := tckms.NewScheduleKeyDeletionRequest()
	sd.KeyId = common.StringPtr(id)
	for _, days := range []uint64{6, 31} {
		sd.PendingWindowInDays = common.Uint64Ptr(days)
		_, err = c.ScheduleKeyDeletion(sd)
		tcError(t, err, "InvalidParameter.InvalidPendingWindowInDays")
	}
	cd := tckms.NewCancelKeyDeletionRequest()
	cd.KeyId = common.StringPtr(id)
	_, err = c.CancelKeyDeletion(cd)
	tcError(t, err, "ResourceUnavailable.CmkNotPendingDelete")
	sd.PendingWindowInDays = common.Uint64Ptr(30)
	_, err = c.ScheduleKeyDeletion(sd) // an Enabled key: disable it first, as Tencent Cloud asks
	tcError(t, err, "ResourceUnavailable.CmkStateNotSupport")
	off := tckms.NewDisableKeyRequest()
	off.KeyId = common.StringPtr(id)
	must(c.DisableKey(off))
	must(c.ScheduleKeyDeletion(sd))
	_, err = c.Encrypt(enc)
	tcError(t, err, "ResourceUnavailable.KeyPendingDelete")

	// ImportKeyMaterial refused on a Disabled key.
	ext := tcCreate(c, 2, false)
	material := bytes.Repeat([]byte{3}, 32)
	must(0, tcImport(t, c, ext, "RSAES_OAEP_SHA_256", material))
	dis := tckms.NewDisableKeyRequest()
	dis.KeyId = common.StringPtr(ext)
	must(c.DisableKey(dis))
	tcError(t, tcImport(t, c, ext, "RSAES_OAEP_SHA_256", material), "ResourceUnavailable.CmkDisabled")

	// EnableKeys and DisableKeys: a bad id in the batch changes nothing.
	dks := tckms.NewDisableKeysRequest()
	dks.KeyIds = []*string{common.StringPtr(other), common.StringPtr("00000000-0000-4000-8000-000000000000")}
	_, err = c.DisableKeys(dks)
	tcError(t, err, "ResourceUnavailable.CmkNotFound")
	dk := tckms.NewDescribeKeyRequest()
	dk.KeyId = common.StringPtr(other)
	if st := *must(c.DescribeKey(dk)).Response.KeyMetadata.KeyState; st != "Enabled" {
		t.Fatalf("a failed DisableKeys changed a key: %s", st)
	}
	dks.KeyIds = dks.KeyIds[:1]
	must(c.DisableKeys(dks))
	eks := tckms.NewEnableKeysRequest()
	eks.KeyIds = dks.KeyIds
	must(c.EnableKeys(eks))

	// Type: 2 for AES keys, 4 for SM4 keys (made through Alibaba Cloud's API).
	if typ := *must(c.DescribeKey(dk)).Response.KeyMetadata.Type; typ != 2 {
		t.Fatalf("Type of an AES key: %d", typ)
	}
	v1c := newV1(t, s, s.sk)
	ck := kms.CreateCreateKeyRequest()
	v1c.prep(ck.RpcRequest)
	ck.KeySpec = "Aliyun_SM4"
	dk.KeyId = common.StringPtr(must(v1c.c.CreateKey(ck)).KeyMetadata.KeyId)
	if typ := *must(c.DescribeKey(dk)).Response.KeyMetadata.Type; typ != 4 {
		t.Fatalf("Type of an SM4 key: %d", typ)
	}

	gr := tckms.NewGenerateRandomRequest()
	gr.NumberOfBytes = common.Uint64Ptr(48)
	if b := must(base64.StdEncoding.DecodeString(*must(c.GenerateRandom(gr)).Response.Plaintext)); len(b) != 48 {
		t.Fatalf("GenerateRandom gave %d bytes", len(b))
	}
	gr.NumberOfBytes = common.Uint64Ptr(1025)
	_, err = c.GenerateRandom(gr)
	tcError(t, err, "InvalidParameter")
	if st := must(c.GetServiceStatus(tckms.NewGetServiceStatusRequest())).Response; !*st.ServiceEnabled {
		t.Fatal("GetServiceStatus: not enabled")
	}
	if al := must(c.ListAlgorithms(tckms.NewListAlgorithmsRequest())).Response; len(al.SymmetricAlgorithms) == 0 {
		t.Fatal("ListAlgorithms: no symmetric algorithms")
	}

	// Another API version is still refused.
	if r := rawTC3(t, s, "DescribeKey", `{"KeyId":"`+other+`"}`, map[string]string{"X-TC-Version": "2017-01-01"}); r.code != "NoSuchVersion" {
		t.Fatalf("another version: %s", r.raw)
	}
}

// TestAliyunV1NewActions: the classic SDK's typed requests (repeated
// parameters as it flattens them) and its JSON and XML parsing of the new
// list answers.
func TestAliyunV1NewActions(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newV1(t, s, s.sk)
	ck := kms.CreateCreateKeyRequest()
	c.prep(ck.RpcRequest)
	id := must(c.c.CreateKey(ck)).KeyMetadata.KeyId
	tr := kms.CreateTagResourcesRequest()
	c.prep(tr.RpcRequest)
	tr.ResourceType, tr.ResourceId = "key", &[]string{id}
	tr.Tag = &[]kms.TagResourcesTag{{Key: "k1", Value: "v1"}, {Key: "k2", Value: "v2"}}
	must(c.c.TagResources(tr))
	ca := kms.CreateCreateAliasRequest()
	c.prep(ca.RpcRequest)
	ca.AliasName, ca.KeyId = "alias/v1", id
	must(c.c.CreateAlias(ca))
	cv := kms.CreateCreateKeyVersionRequest()
	c.prep(cv.RpcRequest)
	cv.KeyId = id
	must(c.c.CreateKeyVersion(cv))
	for _, format := range []string{"JSON", "XML"} {
		c.format = format
		lt := kms.CreateListTagResourcesRequest()
		c.prep(lt.RpcRequest)
		lt.ResourceType, lt.ResourceId = "key", &[]string{id}
		if got := must(c.c.ListTagResources(lt)).TagResources.TagResource; len(got) != 2 || got[1].TagKey != "k2" || got[1].TagValue != "v2" || got[0].ResourceId != id {
			t.Fatalf("%s ListTagResources: %+v", format, got)
		}
		la := kms.CreateListAliasesRequest()
		c.prep(la.RpcRequest)
		if got := must(c.c.ListAliases(la)); got.TotalCount != 1 || len(got.Aliases.Alias) != 1 || got.Aliases.Alias[0].KeyId != id {
			t.Fatalf("%s ListAliases: %+v", format, got)
		}
		lv := kms.CreateListKeyVersionsRequest()
		c.prep(lv.RpcRequest)
		lv.KeyId = id
		if got := must(c.c.ListKeyVersions(lv)); got.TotalCount != 2 || len(got.KeyVersions.KeyVersion) != 2 {
			t.Fatalf("%s ListKeyVersions: %+v", format, got)
		}
		dk := kms.CreateDescribeKeyRequest()
		c.prep(dk.RpcRequest)
		dk.KeyId = "alias/v1"
		if md := must(c.c.DescribeKey(dk)).KeyMetadata; md.KeyId != id || md.AutomaticRotation != "Disabled" || md.LastRotationDate == "" {
			t.Fatalf("%s DescribeKey by alias: %+v", format, md)
		}
	}
}
