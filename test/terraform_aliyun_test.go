package test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
)

// The Alibaba Cloud Terraform provider's call sequences, replayed as its
// source makes them: aliyun/terraform-provider-alicloud at commit
// 81c43b6727a0 (2026-08-21), alicloud/resource_alicloud_kms_key.go,
// service_alicloud_kms_v2.go (DescribeKmsKey, ListTagResources,
// SetResourceTags), resource_alicloud_kms_alias.go,
// resource_alicloud_kms_key_version.go and data_source_alicloud_kms_*.go.
// The provider sends every call as client.RpcPost: an RPC-style POST of
// version 2016-01-20, AK-signed, its parameters in a form body; the
// darabonba client's DoRPCRequest sends the same request.

type rpc struct {
	t *testing.T
	c *openapi.Client
}

func newRPC(t *testing.T, s *server) *rpc {
	return &rpc{t: t, c: must(openapi.NewClient(&openapi.Config{
		AccessKeyId: tea.String(s.ak), AccessKeySecret: tea.String(s.sk),
		Endpoint: tea.String(s.addr), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou"),
	}))}
}

// post is RpcPost: the response body as a map, or the SDK error.
func (r *rpc) post(action string, body map[string]any) (map[string]any, error) {
	res, err := r.c.DoRPCRequest(tea.String(action), tea.String("2016-01-20"), tea.String("HTTP"), tea.String("POST"),
		tea.String("AK"), tea.String("json"), &openapi.OpenApiRequest{Body: body}, &util.RuntimeOptions{})
	if err != nil {
		return nil, err
	}
	b, _ := res["body"].(map[string]any)
	return b, nil
}

func (r *rpc) ok(action string, body map[string]any) map[string]any {
	r.t.Helper()
	out, err := r.post(action, body)
	if err != nil {
		r.t.Fatalf("%s: %v", action, err)
	}
	return out
}

// fails asserts the SDK error's code and HTTP status.
func (r *rpc) fails(action string, body map[string]any, status int, code string) {
	r.t.Helper()
	_, err := r.post(action, body)
	var se *tea.SDKError
	if !errors.As(err, &se) || tea.StringValue(se.Code) != code || tea.IntValue(se.StatusCode) != status {
		r.t.Fatalf("%s: got %v, want %d %s", action, err, status, code)
	}
}

// readKey is resourceAliCloudKmsKeyRead: DescribeKey, then the tags from
// ListTagResources. gone is DescribeKmsKey's NotFound: Forbidden.KeyNotFound
// or a key pending deletion.
func (r *rpc) readKey(id string) (md map[string]any, tags map[string]string, gone bool) {
	r.t.Helper()
	res, err := r.post("DescribeKey", map[string]any{"KeyId": id})
	var se *tea.SDKError
	if errors.As(err, &se) && (tea.StringValue(se.Code) == "Forbidden.KeyNotFound" || tea.StringValue(se.Code) == "Forbidden.AliasNotFound") {
		return nil, nil, true
	}
	if err != nil {
		r.t.Fatalf("DescribeKey: %v", err)
	}
	md = res["KeyMetadata"].(map[string]any)
	if md["KeyState"] == "PendingDeletion" {
		return md, nil, true
	}
	tr := r.ok("ListTagResources", map[string]any{"RegionId": "cn-hangzhou", "ResourceType": "key", "ResourceId.1": id})
	tags = map[string]string{}
	for _, v := range tr["TagResources"].(map[string]any)["TagResource"].([]any) {
		item := v.(map[string]any)
		tags[item["TagKey"].(string)] = item["TagValue"].(string)
	}
	return md, tags, false
}

func TestTerraformAlicloudKmsKey(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	r := newRPC(t, s)

	// Create: CreateKey with every argument the resource sends, then the
	// update pass of a new resource (SetDeletionProtection only), then read.
	created := r.ok("CreateKey", map[string]any{
		"Description": "terraform key", "KeyUsage": "ENCRYPT/DECRYPT", "Origin": "Aliyun_KMS", "ProtectionLevel": "HSM",
		"RotationInterval": "2592000s", "KeySpec": "Aliyun_AES_256", "EnableAutomaticRotation": true,
		"Tags": `[{"TagKey":"env","TagValue":"prod"},{"TagKey":"team","TagValue":"kms"}]`,
	})
	id := created["KeyMetadata"].(map[string]any)["KeyId"].(string)
	r.ok("SetDeletionProtection", map[string]any{"KeyId": id, "EnableDeletionProtection": true, "DeletionProtectionDescription": "managed by terraform"})
	md, tags, gone := r.readKey(id)
	if gone {
		t.Fatal("a created key reads as gone")
	}
	want := map[string]any{"AutomaticRotation": "Enabled", "DeletionProtection": "Enabled", "DeletionProtectionDescription": "managed by terraform",
		"Description": "terraform key", "KeySpec": "Aliyun_AES_256", "KeyUsage": "ENCRYPT/DECRYPT", "Origin": "Aliyun_KMS",
		"ProtectionLevel": "HSM", "RotationInterval": "2592000s", "KeyState": "Enabled", "Creator": "1"}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("after create, %s = %v, want %v", k, md[k], v)
		}
	}
	for _, k := range []string{"Arn", "PrimaryKeyVersion", "LastRotationDate", "NextRotationDate", "CreationDate"} {
		if s, _ := md[k].(string); s == "" {
			t.Errorf("after create, %s is empty", k)
		}
	}
	if !reflect.DeepEqual(tags, map[string]string{"env": "prod", "team": "kms"}) {
		t.Errorf("tags after create: %v", tags)
	}

	// Update every mutable attribute, as resourceAliCloudKmsKeyUpdate does:
	// status first. Alibaba Cloud refuses UpdateRotationPolicy on a Disabled
	// key (Rejected.Disabled, its state table), so a configuration that
	// disables a key and changes its rotation needs two applies: here the
	// rotation changes in the first, the status in the second.
	r.ok("UpdateRotationPolicy", map[string]any{"KeyId": id, "EnableAutomaticRotation": false, "RotationInterval": "604800s"})
	if md, _, _ := r.readKey(id); md["KeyState"] != "Disabled" {
		r.ok("DisableKey", map[string]any{"KeyId": id})
	}
	r.fails("UpdateRotationPolicy", map[string]any{"KeyId": id, "EnableAutomaticRotation": true, "RotationInterval": "604800s"}, 409, "Rejected.Disabled")
	r.ok("UpdateKeyDescription", map[string]any{"KeyId": id, "Description": "renamed"})
	r.ok("SetDeletionProtection", map[string]any{"KeyId": id, "EnableDeletionProtection": false})
	policy := `{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:root"]},"Action":["kms:*"],"Resource":["*"]}]}`
	r.ok("SetKeyPolicy", map[string]any{"KeyId": id, "Policy": policy})
	r.ok("UntagResources", map[string]any{"ResourceId.1": id, "RegionId": "cn-hangzhou", "ResourceType": "key", "TagKey.1": "team"})
	r.ok("TagResources", map[string]any{"ResourceId.1": id, "RegionId": "cn-hangzhou", "ResourceType": "key", "Tag.1.Key": "env", "Tag.1.Value": "staging", "Tag.2.Key": "owner", "Tag.2.Value": "ops"})
	md, tags, _ = r.readKey(id)
	for k, v := range map[string]any{"KeyState": "Disabled", "Description": "renamed", "AutomaticRotation": "Disabled",
		"RotationInterval": "604800s", "DeletionProtection": "Disabled", "DeletionProtectionDescription": ""} {
		if md[k] != v {
			t.Errorf("after update, %s = %v, want %v", k, md[k], v)
		}
	}
	if !reflect.DeepEqual(tags, map[string]string{"env": "staging", "owner": "ops"}) {
		t.Errorf("tags after update: %v", tags)
	}
	if got := r.ok("GetKeyPolicy", map[string]any{"KeyId": id})["Policy"]; got != policy {
		t.Errorf("GetKeyPolicy = %v", got)
	}
	r.ok("EnableKey", map[string]any{"KeyId": id})

	// Destroy with deletion protection on is refused; off, it schedules,
	// and the read after destroy finds the key gone.
	r.ok("SetDeletionProtection", map[string]any{"KeyId": id, "EnableDeletionProtection": true})
	r.fails("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 7}, 409, "Rejected.StateModifiedFailed")
	r.ok("SetDeletionProtection", map[string]any{"KeyId": id, "EnableDeletionProtection": false})
	r.ok("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": 7})
	if _, _, gone := r.readKey(id); !gone {
		t.Fatal("the key reads as present after destroy")
	}
	if _, _, gone := r.readKey("00000000-0000-4000-8000-000000000000"); !gone {
		t.Fatal("an unknown key reads as present")
	}
}

func TestTerraformAlicloudAliasAndVersions(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	r := newRPC(t, s)
	newKey := func() string {
		return r.ok("CreateKey", map[string]any{"ProtectionLevel": "SOFTWARE"})["KeyMetadata"].(map[string]any)["KeyId"].(string)
	}
	k1, k2 := newKey(), newKey()

	// alicloud_kms_alias: create, read (ListAliases pages until found),
	// update key_id, destroy, read after destroy.
	readAlias := func(name string) (keyID string, found bool) {
		for page := 1; ; page++ {
			res := r.ok("ListAliases", map[string]any{"PageSize": 50, "PageNumber": page})
			list := res["Aliases"].(map[string]any)["Alias"].([]any)
			for _, v := range list {
				if a := v.(map[string]any); a["AliasName"] == name {
					return a["KeyId"].(string), true
				}
			}
			if len(list) < 50 {
				return "", false
			}
		}
	}
	r.ok("CreateAlias", map[string]any{"AliasName": "alias/app", "KeyId": k1})
	if got, ok := readAlias("alias/app"); !ok || got != k1 {
		t.Fatalf("alias after create: %q %v", got, ok)
	}
	r.fails("CreateAlias", map[string]any{"AliasName": "alias/app", "KeyId": k2}, 400, "InvalidParameter")
	r.fails("CreateAlias", map[string]any{"AliasName": "app", "KeyId": k2}, 400, "InvalidParameter")
	enc := r.ok("Encrypt", map[string]any{"KeyId": "alias/app", "Plaintext": base64.StdEncoding.EncodeToString([]byte("by alias"))})
	if enc["KeyId"] != k1 {
		t.Fatalf("Encrypt by alias answered KeyId %v", enc["KeyId"])
	}
	r.ok("UpdateAlias", map[string]any{"AliasName": "alias/app", "KeyId": k2})
	if got, _ := readAlias("alias/app"); got != k2 {
		t.Fatalf("alias after update points at %q", got)
	}
	byKey := r.ok("ListAliasesByKeyId", map[string]any{"KeyId": k2})["Aliases"].(map[string]any)["Alias"].([]any)
	if len(byKey) != 1 || byKey[0].(map[string]any)["AliasArn"] != "acs:kms:cn-hangzhou:1:alias/app" {
		t.Fatalf("ListAliasesByKeyId: %v", byKey)
	}
	r.ok("DeleteAlias", map[string]any{"AliasName": "alias/app"})
	if _, ok := readAlias("alias/app"); ok {
		t.Fatal("alias reads as present after destroy")
	}
	r.fails("DescribeKey", map[string]any{"KeyId": "alias/app"}, 404, "Forbidden.AliasNotFound")

	// alicloud_kms_key_version: create, read (DescribeKeyVersion by the
	// KeyId:KeyVersionId id), the data source's ListKeyVersions; destroy
	// calls nothing.
	v := r.ok("CreateKeyVersion", map[string]any{"KeyId": k1})["KeyVersion"].(map[string]any)
	vid := v["KeyVersionId"].(string)
	got := r.ok("DescribeKeyVersion", map[string]any{"KeyId": k1, "KeyVersionId": vid})["KeyVersion"].(map[string]any)
	if got["KeyId"] != k1 || got["KeyVersionId"] != vid || got["CreationDate"] == "" {
		t.Fatalf("DescribeKeyVersion: %v", got)
	}
	versions := r.ok("ListKeyVersions", map[string]any{"KeyId": k1, "PageSize": 50, "PageNumber": 1})
	if n := len(versions["KeyVersions"].(map[string]any)["KeyVersion"].([]any)); n != 2 || fmt.Sprint(versions["TotalCount"]) != "2" {
		t.Fatalf("ListKeyVersions after one rotation: %d versions, %v", n, versions["TotalCount"])
	}
	if md, _, _ := r.readKey(k1); md["PrimaryKeyVersion"] != vid {
		t.Fatalf("PrimaryKeyVersion %v, want %s", md["PrimaryKeyVersion"], vid)
	}
	r.fails("DescribeKeyVersion", map[string]any{"KeyId": k1, "KeyVersionId": "no-such-version"}, 404, "Forbidden.ResourceNotFound")

	// data.alicloud_kms_keys with Filters.
	r.ok("DisableKey", map[string]any{"KeyId": k2})
	res := r.ok("ListKeys", map[string]any{"Filters": `[{"Key":"KeyState","Values":["Disabled"]}]`, "PageSize": 50, "PageNumber": 1})
	keys := res["Keys"].(map[string]any)["Key"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["KeyId"] != k2 || fmt.Sprint(res["TotalCount"]) != "1" {
		t.Fatalf("ListKeys filtered on Disabled: %v", res)
	}
}
