package test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tctag "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/tag/v20180813"

	"github.com/keyport-kms/keyport/client"
)

// actionPair is one request as each cloud's API puts it, on one key.
type actionPair struct {
	name     string
	external bool // on an EXTERNAL key (import actions)
	aliyun   string
	aliyunP  func(key, blob string) map[string]any
	tencent  string
	tencentP func(key, blob string) map[string]any
}

func byKey(extra map[string]any) func(key, blob string) map[string]any {
	return func(key, _ string) map[string]any {
		p := map[string]any{"KeyId": key}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
}

func byBlob(key, blob string) map[string]any { return map[string]any{"CiphertextBlob": blob} }
func reEncryptTo(key, blob string) map[string]any {
	return map[string]any{"CiphertextBlob": blob, "DestinationKeyId": key}
}
func none(key, blob string) map[string]any { return map[string]any{} }

var plain = base64.StdEncoding.EncodeToString([]byte("same decision"))

// actionPairs walks the action families of Permissions, each as Alibaba
// Cloud's and Tencent Cloud's API names it. Tags are the tag service's on
// Tencent Cloud (sent through its SDK by the test, not from this table).
var actionPairs = []actionPair{
	{name: "Encrypt", aliyun: "Encrypt", aliyunP: byKey(map[string]any{"Plaintext": plain}), tencent: "Encrypt", tencentP: byKey(map[string]any{"Plaintext": plain})},
	{name: "Decrypt", aliyun: "Decrypt", aliyunP: byBlob, tencent: "Decrypt", tencentP: byBlob},
	{name: "ReEncrypt", aliyun: "ReEncrypt", aliyunP: reEncryptTo, tencent: "ReEncrypt", tencentP: reEncryptTo},
	{name: "GenerateDataKey", aliyun: "GenerateDataKey", aliyunP: byKey(map[string]any{"NumberOfBytes": 32}), tencent: "GenerateDataKey", tencentP: byKey(map[string]any{"NumberOfBytes": 32})},
	{name: "DescribeKey", aliyun: "DescribeKey", aliyunP: byKey(nil), tencent: "DescribeKey", tencentP: byKey(nil)},
	{name: "UpdateKeyDescription", aliyun: "UpdateKeyDescription", aliyunP: byKey(map[string]any{"Description": "d"}), tencent: "UpdateKeyDescription", tencentP: byKey(map[string]any{"Description": "d"})},
	{name: "DisableKey", aliyun: "DisableKey", aliyunP: byKey(nil), tencent: "DisableKey", tencentP: byKey(nil)},
	{name: "EnableKey", aliyun: "EnableKey", aliyunP: byKey(nil), tencent: "EnableKey", tencentP: byKey(nil)},
	{name: "ScheduleKeyDeletion", aliyun: "ScheduleKeyDeletion", aliyunP: byKey(map[string]any{"PendingWindowInDays": 7}), tencent: "ScheduleKeyDeletion", tencentP: byKey(map[string]any{"PendingWindowInDays": 7})},
	{name: "Rotation", aliyun: "UpdateRotationPolicy", aliyunP: byKey(map[string]any{"EnableAutomaticRotation": "false"}), tencent: "DisableKeyRotation", tencentP: byKey(nil)},
	{name: "ListKeys", aliyun: "ListKeys", aliyunP: none, tencent: "ListKeys", tencentP: none},
	{name: "GetParametersForImport", external: true,
		aliyun: "GetParametersForImport", aliyunP: byKey(map[string]any{"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
		tencent: "GetParametersForImport", tencentP: byKey(map[string]any{"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"})},
	{name: "DeleteKeyMaterial", external: true, aliyun: "DeleteKeyMaterial", aliyunP: byKey(nil), tencent: "DeleteImportedKeyMaterial", tencentP: byKey(nil)},
}

// Policies in both languages over the action families: a request is
// decided the same way whichever API it came through.
var sameDecisionPolicies = map[string]string{
	"ram-crypto-tagged": ramAppA,
	"cam-crypto-tagged": camAppC,
	"ram-admin":         ramAdmin,
	"cam-one-key-no-disable": `{"version":"2.0","statement":[
  {"effect":"allow","action":["name/kms:*","name/tag:*"],"resource":"qcs::kms:*:uin/*:key/creatorUin/*/KEY_A"},
  {"effect":"deny","action":["name/kms:Disable*"],"resource":"*"}]}`,
	"ram-read-only": `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Describe*","kms:List*","kms:Get*"],"Resource":"*"}]}`,
	"cam-importer": `{"version":"2.0","statement":[
  {"effect":"allow","action":["name/kms:GetParametersForImport","name/kms:ImportKeyMaterial","name/kms:DescribeKey"],"resource":"*"}]}`,
	"ram-tag-a-all": `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:tag/app":"a"}}}]}`,
	"none":          "",
}

// TestSameDecisionBothDialects: for each policy, in RAM and in CAM, every
// action family on a key the policy covers and on one it does not is
// refused through the Tencent Cloud API exactly when it is refused through
// the Alibaba Cloud API.
func TestSameDecisionBothDialects(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	ctx := context.Background()
	root := s.rawClient(t, client.Aliyun, s.ak, s.sk, nil)
	newKey := func(app, origin string) string {
		var out struct{ KeyMetadata struct{ KeyId string } }
		must(0, root.Call(ctx, "CreateKey", map[string]any{"Origin": origin, "Tags": `[{"TagKey":"app","TagValue":"` + app + `"}]`}, &out))
		return out.KeyMetadata.KeyId
	}
	keys := map[bool]map[string]string{
		false: {"a": newKey("a", "Aliyun_KMS"), "b": newKey("b", "Aliyun_KMS")},
		true:  {"a": newKey("a", "EXTERNAL"), "b": newKey("b", "EXTERNAL")},
	}
	blobs := map[string]string{}
	for _, id := range keys[false] {
		blobs[id] = must(root.Encrypt(ctx, id, []byte("x")))
	}
	// restore undoes what an allowed request changed, as the root.
	restore := func(key string) {
		for _, a := range []string{"CancelKeyDeletion", "EnableKey"} {
			_ = root.Call(ctx, a, map[string]any{"KeyId": key}, nil)
		}
	}
	refusal := map[client.Dialect]string{client.Aliyun: "Forbidden.NoPermission", client.Tencent: "AuthFailure.UnauthorizedOperation"}
	for name, doc := range sameDecisionPolicies {
		t.Run(name, func(t *testing.T) {
			defer catch(t)
			var policies map[string]string
			if doc != "" {
				policies = map[string]string{"p": strings.ReplaceAll(doc, "KEY_A", keys[false]["a"])}
			}
			ak, sk := s.makeUser(t, name, policies)
			ali, tc := s.rawClient(t, client.Aliyun, ak, sk, nil), s.rawClient(t, client.Tencent, ak, sk, nil)
			u := *s
			u.ak, u.sk = ak, sk
			tag := newTag(t, &u)
			allowed, refused := 0, 0
			decide := func(what, aliCode, tcCode string) {
				aRefused, tRefused := aliCode == refusal[client.Aliyun], tcCode == refusal[client.Tencent]
				if aRefused != tRefused {
					t.Errorf("%s: Alibaba Cloud API %s, Tencent Cloud API %s", what, aliCode, tcCode)
				}
				if aRefused {
					refused++
				} else {
					allowed++
				}
			}
			for _, p := range actionPairs {
				for app, key := range keys[p.external] {
					blob := blobs[key]
					aErr := ali.Call(ctx, p.aliyun, p.aliyunP(key, blob), nil)
					restore(key)
					tErr := tc.Call(ctx, p.tencent, p.tencentP(key, blob), nil)
					restore(key)
					decide(p.name+" on the key of "+app, apiCode(aErr), apiCode(tErr))
				}
			}
			for app, key := range keys[false] {
				aErr := ali.Call(ctx, "TagResources", map[string]any{"ResourceType": "key", "ResourceId.1": key, "Tag.1.Key": "team", "Tag.1.Value": "x"}, nil)
				req := tctag.NewModifyResourceTagsRequest()
				req.Resource = common.StringPtr(tcResourceName(key))
				req.ReplaceTags = []*tctag.Tag{{TagKey: common.StringPtr("team"), TagValue: common.StringPtr("y")}}
				_, tErr := tag.ModifyResourceTags(req)
				decide("tagging the key of "+app, apiCode(aErr), tcCode(tErr))
			}
			if name != "none" && (allowed == 0 || refused == 0) {
				t.Errorf("%d allowed, %d refused: the policy should decide both ways here", allowed, refused)
			}
			if name == "none" && allowed != 0 {
				t.Errorf("a user with no policy was allowed %d requests", allowed)
			}
		})
	}
}

// tcCode is a Tencent Cloud SDK call's error code, "OK" for none.
func tcCode(err error) string {
	var se *tcerr.TencentCloudSDKError
	if errors.As(err, &se) {
		return se.Code
	}
	if err != nil {
		return err.Error()
	}
	return "OK"
}
