package test

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms3 "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"
)

// TestAuditNamesEveryKey: each audit line names every key the request acted
// on, resolved: the key id and the version used, with the alias it was
// named by; for Decrypt and ReEncrypt the key and version in the
// ciphertext; for batch, tag and ARN-addressed actions each key.
func TestAuditNamesEveryKey(t *testing.T) {
	defer catch(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := startServer(t, "--audit-log", path)
	r, tc := newRPC(t, s), newTencent(t, s, s.sk)
	c := must(kms3.NewClient(&openapi.Config{AccessKeyId: tea.String(s.ak), AccessKeySecret: tea.String(s.sk),
		Endpoint: tea.String(s.addr), Protocol: tea.String("http"), RegionId: tea.String("cn-hangzhou")}))
	create := func() (id, version string) {
		md := r.ok("CreateKey", map[string]any{})["KeyMetadata"].(map[string]any)
		return md["KeyId"].(string), md["PrimaryKeyVersion"].(string)
	}
	a, av1 := create()
	b, bv := create()
	r.ok("CreateAlias", map[string]any{"KeyId": a, "AliasName": "alias/app"})
	pt := base64.StdEncoding.EncodeToString([]byte("named"))
	v1blob := r.ok("Encrypt", map[string]any{"KeyId": "alias/app", "Plaintext": pt})["CiphertextBlob"]
	av2 := r.ok("CreateKeyVersion", map[string]any{"KeyId": a})["KeyVersion"].(map[string]any)["KeyVersionId"].(string)
	r.ok("Decrypt", map[string]any{"CiphertextBlob": v1blob})
	r.ok("ReEncrypt", map[string]any{"CiphertextBlob": v1blob, "DestinationKeyId": b})
	r.ok("UpdateAlias", map[string]any{"KeyId": b, "AliasName": "alias/app"})
	r.ok("Encrypt", map[string]any{"KeyId": "alias/app", "Plaintext": pt})
	must(c.SetDeletionProtection(&kms3.SetDeletionProtectionRequest{ProtectedResourceArn: tea.String("acs:kms:cn-hangzhou:1:key/" + a), EnableDeletionProtection: tea.Bool(true)}))
	must(c.TagResources(&kms3.TagResourcesRequest{RegionId: tea.String("cn-hangzhou"), ResourceType: tea.String("key"), ResourceId: []*string{tea.String(a), tea.String(b)},
		Tag: []*kms3.TagResourcesRequestTag{{Key: tea.String("team"), Value: tea.String("x")}}}))
	must(c.UntagResources(&kms3.UntagResourcesRequest{RegionId: tea.String("cn-hangzhou"), ResourceType: tea.String("key"), ResourceId: []*string{tea.String(a), tea.String(b)},
		TagKey: []*string{tea.String("team")}}))
	ids := []*string{common.StringPtr(a), common.StringPtr(b)}
	dis, en, desc, one := tckms.NewDisableKeysRequest(), tckms.NewEnableKeysRequest(), tckms.NewDescribeKeysRequest(), tckms.NewDescribeKeyRequest()
	dis.KeyIds, en.KeyIds, desc.KeyIds, one.KeyId = ids, ids, ids, common.StringPtr(a)
	must(tc.DisableKeys(dis))
	must(tc.EnableKeys(en))
	must(tc.DescribeKeys(desc))
	modifyTags(newTag(t, s), *must(tc.DescribeKey(one)).Response.KeyMetadata.ResourceId, map[string]string{"env": "dev"})
	s.stop(t)

	want := map[string]string{ // action → its keys as id:version(@alias), in order
		"CreateAlias":           a + ":" + av1,
		"Encrypt#1":             a + ":" + av1 + "@alias/app",
		"CreateKeyVersion":      a + ":" + av2,
		"Decrypt":               a + ":" + av1,
		"ReEncrypt":             a + ":" + av1 + " " + b + ":" + bv,
		"UpdateAlias":           b + ":" + bv,
		"Encrypt#2":             b + ":" + bv + "@alias/app",
		"SetDeletionProtection": a + ":" + av2,
		"TagResources":          a + ":" + av2 + " " + b + ":" + bv,
		"UntagResources":        a + ":" + av2 + " " + b + ":" + bv,
		"DisableKeys":           a + ":" + av2 + " " + b + ":" + bv,
		"EnableKeys":            a + ":" + av2 + " " + b + ":" + bv,
		"DescribeKeys":          a + ":" + av2 + " " + b + ":" + bv,
		"ModifyResourceTags":    a + ":" + av2,
	}
	lines, _ := readAudit(t, path)
	seen := map[string]int{}
	for _, l := range lines {
		seen[l.Action]++
		name := l.Action
		if l.Action == "Encrypt" {
			name = fmt.Sprint("Encrypt#", seen[l.Action])
		}
		w, ok := want[name]
		if !ok {
			continue
		}
		delete(want, name)
		var got []string
		for _, k := range l.Keys {
			g := k.KeyID + ":" + k.Version
			if k.Alias != "" {
				g += "@" + k.Alias
			}
			got = append(got, g)
		}
		if strings.Join(got, " ") != w {
			t.Errorf("%s names keys %q, want %q", name, strings.Join(got, " "), w)
		}
		if l.Result != "OK" {
			t.Errorf("%s: %s", name, l.Result)
		}
	}
	for name := range want {
		t.Errorf("no audit line for %s", name)
	}
}
