package test

import (
	"encoding/base64"
	"reflect"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"
	tctag "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/tag/v20180813"
)

// The Tencent Cloud Terraform provider's call sequences, replayed as its
// source makes them: tencentcloudstack/terraform-provider-tencentcloud at
// commit f6970a900384 (2026-08-21), tencentcloud/services/kms/
// resource_tc_kms_key.go and service_tencentcloud_kms.go, and
// services/tag/service_tencentcloud_tag.go (ModifyTags,
// DescribeResourceTags). The provider reaches kms.<domain> and tag.<domain>
// from one domain setting; both land on Keyport's one listener.

func newTag(t *testing.T, s *server) *tctag.Client {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = s.addr
	cpf.HttpProfile.Scheme = "HTTP"
	return must(tctag.NewClient(common.NewCredential(s.ak, s.sk), "ap-guangzhou", cpf))
}

// tcResourceName is tccommon.BuildTagResourceName("kms", "key", region, ResourceId).
func tcResourceName(resourceID string) string { return "qcs::kms:ap-guangzhou:uin/:key/" + resourceID }

// readTencentKey is resourceTencentCloudKmsKeyRead: DescribeKey, then the
// tags through the tag service (DESCRIBE_TAGS_LIMIT 20 a page).
func readTencentKey(t *testing.T, c *tckms.Client, tg *tctag.Client, id string) (*tckms.KeyMetadata, map[string]string) {
	t.Helper()
	dk := tckms.NewDescribeKeyRequest()
	dk.KeyId = common.StringPtr(id)
	key := must(c.DescribeKey(dk)).Response.KeyMetadata
	req := tctag.NewDescribeResourceTagsByResourceIdsRequest()
	req.ServiceType, req.ResourcePrefix, req.ResourceRegion = common.StringPtr("kms"), common.StringPtr("key"), common.StringPtr("ap-guangzhou")
	req.ResourceIds = []*string{key.ResourceId}
	req.Limit, req.Offset = common.Uint64Ptr(20), common.Uint64Ptr(0)
	tags := map[string]string{}
	for count := 20; count == 20; {
		res := must(tg.DescribeResourceTagsByResourceIds(req)).Response
		count = len(res.Tags)
		for _, tag := range res.Tags {
			if *tag.ResourceId == *key.ResourceId {
				tags[*tag.TagKey] = *tag.TagValue
			}
		}
		*req.Offset += uint64(count)
	}
	return key, tags
}

func modifyTags(tg *tctag.Client, resourceID string, replace map[string]string, remove ...string) {
	req := tctag.NewModifyResourceTagsRequest()
	req.Resource = common.StringPtr(tcResourceName(resourceID))
	for k, v := range replace {
		req.ReplaceTags = append(req.ReplaceTags, &tctag.Tag{TagKey: common.StringPtr(k), TagValue: common.StringPtr(v)})
	}
	for _, k := range remove {
		req.DeleteTags = append(req.DeleteTags, &tctag.TagKeyObject{TagKey: common.StringPtr(k)})
	}
	must(tg.ModifyResourceTags(req))
}

func TestTerraformTencentKmsKey(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--account-id", "100012345678")
	c, tg := newTencent(t, s, s.sk), newTag(t, s)

	// tencentcloud_kms_key create: CreateKey (Type 1, with hsm_cluster_id),
	// EnableKeyRotation, then tags by ModifyResourceTags, then the read.
	ck := tckms.NewCreateKeyRequest()
	ck.Type, ck.Alias, ck.Description = common.Uint64Ptr(1), common.StringPtr("tf-key"), common.StringPtr("by terraform")
	ck.KeyUsage, ck.HsmClusterId = common.StringPtr("ENCRYPT_DECRYPT"), common.StringPtr("cls-hsm-1")
	id := *must(c.CreateKey(ck)).Response.KeyId
	er := tckms.NewEnableKeyRotationRequest()
	er.KeyId = common.StringPtr(id)
	must(c.EnableKeyRotation(er))
	key, _ := readTencentKey(t, c, tg, id)
	modifyTags(tg, *key.ResourceId, map[string]string{"env": "prod", "team": "kms"})
	key, tags := readTencentKey(t, c, tg, id)
	if *key.Alias != "tf-key" || *key.Description != "by terraform" || *key.KeyState != "Enabled" || *key.KeyUsage != "ENCRYPT_DECRYPT" ||
		!*key.KeyRotationEnabled || *key.HsmClusterId != "cls-hsm-1" || *key.Type != 2 || *key.CreatorUin != 100012345678 || *key.NextRotateTime == 0 {
		t.Fatalf("after create: %s", must(c.DescribeKey(&tckms.DescribeKeyRequest{KeyId: common.StringPtr(id)})).ToJsonString())
	}
	if !reflect.DeepEqual(tags, map[string]string{"env": "prod", "team": "kms"}) {
		t.Fatalf("tags after create: %v", tags)
	}

	// Update: description, alias, is_enabled, key_rotation_enabled, tags.
	ud := tckms.NewUpdateKeyDescriptionRequest()
	ud.KeyId, ud.Description = common.StringPtr(id), common.StringPtr("renamed")
	must(c.UpdateKeyDescription(ud))
	ua := tckms.NewUpdateAliasRequest()
	ua.KeyId, ua.Alias = common.StringPtr(id), common.StringPtr("tf-key-2")
	must(c.UpdateAlias(ua))
	dis := tckms.NewDisableKeyRequest()
	dis.KeyId = common.StringPtr(id)
	must(c.DisableKey(dis))
	dr := tckms.NewDisableKeyRotationRequest()
	dr.KeyId = common.StringPtr(id)
	must(c.DisableKeyRotation(dr))
	modifyTags(tg, *key.ResourceId, map[string]string{"env": "staging"}, "team")
	key, tags = readTencentKey(t, c, tg, id)
	if *key.Alias != "tf-key-2" || *key.Description != "renamed" || *key.KeyState != "Disabled" || *key.KeyRotationEnabled {
		t.Fatalf("after update: %s", must(c.DescribeKey(&tckms.DescribeKeyRequest{KeyId: common.StringPtr(id)})).ToJsonString())
	}
	if !reflect.DeepEqual(tags, map[string]string{"env": "staging"}) {
		t.Fatalf("tags after update: %v", tags)
	}
	// is_archived: ArchiveKey, then back (CancelKeyArchive). Only an
	// Enabled key is archived, so is_enabled comes back first.
	reenable := tckms.NewEnableKeyRequest()
	reenable.KeyId = common.StringPtr(id)
	must(c.EnableKey(reenable))
	ar := tckms.NewArchiveKeyRequest()
	ar.KeyId = common.StringPtr(id)
	must(c.ArchiveKey(ar))
	if key, _ = readTencentKey(t, c, tg, id); *key.KeyState != "Archived" {
		t.Fatalf("after ArchiveKey: %s", *key.KeyState)
	}
	ca := tckms.NewCancelKeyArchiveRequest()
	ca.KeyId = common.StringPtr(id)
	must(c.CancelKeyArchive(ca))

	// Data sources: tencentcloud_kms_keys (ListKeyDetail) and
	// tencentcloud_kms_describe_keys (DescribeKeys).
	soft := tckms.NewCreateKeyRequest()
	soft.Alias = common.StringPtr("tf-soft")
	softID := *must(c.CreateKey(soft)).Response.KeyId
	ld := tckms.NewListKeyDetailRequest()
	ld.SearchKeyAlias, ld.Limit, ld.Offset = common.StringPtr("tf-"), common.Uint64Ptr(100), common.Uint64Ptr(0)
	detail := must(c.ListKeyDetail(ld)).Response
	if *detail.TotalCount != 2 || len(detail.KeyMetadatas) != 2 || *detail.KeyMetadatas[0].KeyId != softID {
		t.Fatalf("ListKeyDetail: %d keys of %d", len(detail.KeyMetadatas), *detail.TotalCount)
	}
	if detail.KeyMetadatas[0].HsmClusterId != nil && *detail.KeyMetadatas[0].HsmClusterId != "" {
		t.Fatalf("a software key shows HsmClusterId %q", *detail.KeyMetadatas[0].HsmClusterId)
	}
	ld.TagFilters = []*tckms.TagFilter{{TagKey: common.StringPtr("env"), TagValue: []*string{common.StringPtr("staging")}}}
	if detail := must(c.ListKeyDetail(ld)).Response; *detail.TotalCount != 1 || *detail.KeyMetadatas[0].KeyId != id {
		t.Fatalf("ListKeyDetail by tag: %d keys of %d", len(detail.KeyMetadatas), *detail.TotalCount)
	}
	dks := tckms.NewDescribeKeysRequest()
	dks.KeyIds = []*string{common.StringPtr(id), common.StringPtr(softID)}
	if got := must(c.DescribeKeys(dks)).Response.KeyMetadatas; len(got) != 2 {
		t.Fatalf("DescribeKeys: %d keys", len(got))
	}

	// Destroy: DisableKey (is_enabled true), ScheduleKeyDeletion, then the
	// read that waits for PendingDelete.
	en := tckms.NewEnableKeyRequest()
	en.KeyId = common.StringPtr(id)
	must(c.EnableKey(en))
	must(c.DisableKey(dis))
	sd := tckms.NewScheduleKeyDeletionRequest()
	sd.KeyId, sd.PendingWindowInDays = common.StringPtr(id), common.Uint64Ptr(7)
	must(c.ScheduleKeyDeletion(sd))
	if key, _ = readTencentKey(t, c, tg, id); *key.KeyState != "PendingDelete" {
		t.Fatalf("after destroy: %s", *key.KeyState)
	}
}

// TestRotation: encrypt under version 1, rotate, encrypt under version 2;
// both decrypt, through both dialects.
func TestRotation(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	r, c := newRPC(t, s), newTencent(t, s, s.sk)
	for _, level := range []string{"SOFTWARE", "HSM"} {
		id := r.ok("CreateKey", map[string]any{"ProtectionLevel": level})["KeyMetadata"].(map[string]any)["KeyId"].(string)
		pt := base64.StdEncoding.EncodeToString([]byte("rotate " + level))
		v1 := r.ok("Encrypt", map[string]any{"KeyId": id, "Plaintext": pt})
		nv := r.ok("CreateKeyVersion", map[string]any{"KeyId": id})["KeyVersion"].(map[string]any)["KeyVersionId"]
		// A second version within --min-version-interval (7 days) is refused.
		r.fails("CreateKeyVersion", map[string]any{"KeyId": id}, 400, "Rejected.UnsupportedOperation")
		v2 := r.ok("Encrypt", map[string]any{"KeyId": id, "Plaintext": pt})
		if v2["KeyVersionId"] != nv || v1["KeyVersionId"] == nv {
			t.Fatalf("%s: versions %v then %v, rotated to %v", level, v1["KeyVersionId"], v2["KeyVersionId"], nv)
		}
		for _, blob := range []any{v1["CiphertextBlob"], v2["CiphertextBlob"]} {
			if got := r.ok("Decrypt", map[string]any{"CiphertextBlob": blob})["Plaintext"]; got != pt {
				t.Fatalf("%s: Aliyun Decrypt after rotation gave %v", level, got)
			}
			dec := tckms.NewDecryptRequest()
			dec.CiphertextBlob = common.StringPtr(blob.(string))
			if got := *must(c.Decrypt(dec)).Response.Plaintext; got != pt {
				t.Fatalf("%s: Tencent Decrypt after rotation gave %v", level, got)
			}
		}
		// ReEncrypt moves the old ciphertext to the primary version.
		re := tckms.NewReEncryptRequest()
		re.CiphertextBlob = common.StringPtr(v1["CiphertextBlob"].(string))
		moved := must(c.ReEncrypt(re)).Response
		if got := r.ok("Decrypt", map[string]any{"CiphertextBlob": *moved.CiphertextBlob}); got["KeyVersionId"] != nv || got["Plaintext"] != pt {
			t.Fatalf("%s: ReEncrypt: %v", level, got)
		}

		// Automatic rotation on, 7 days (the scheduler itself is tested
		// in process with an injected clock: service TestAutomaticRotation).
		er := tckms.NewEnableKeyRotationRequest()
		er.KeyId, er.RotateDays = common.StringPtr(id), common.Uint64Ptr(7)
		must(c.EnableKeyRotation(er))
		gs := tckms.NewGetKeyRotationStatusRequest()
		gs.KeyId = common.StringPtr(id)
		if st := must(c.GetKeyRotationStatus(gs)).Response; !*st.KeyRotationEnabled {
			t.Fatalf("%s: GetKeyRotationStatus: rotation off", level)
		}
		dk := tckms.NewDescribeKeyRequest()
		dk.KeyId = common.StringPtr(id)
		if next := *must(c.DescribeKey(dk)).Response.KeyMetadata.NextRotateTime; next < uint64(time.Now().Add(6*24*time.Hour).Unix()) {
			t.Fatalf("%s: NextRotateTime %d", level, next)
		}
		if md := r.ok("DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any); md["AutomaticRotation"] != "Enabled" || md["RotationInterval"] != "604800s" {
			t.Fatalf("%s: DescribeKey after EnableKeyRotation: %v", level, md)
		}
	}
	// EXTERNAL keys refuse rotation, in both dialects.
	ext := tcCreate(c, 2, false)
	er := tckms.NewEnableKeyRotationRequest()
	er.KeyId = common.StringPtr(ext)
	_, err := c.EnableKeyRotation(er)
	tcError(t, err, "UnsupportedOperation.ExternalCmkCanNotRotate")
	r.fails("CreateKeyVersion", map[string]any{"KeyId": ext}, 400, "Rejected.UnsupportedOperation")
}

// tencentcloud_kms_external_key: create (Type 2), import the material
// (GetParametersForImport RSA_2048, wrap, ImportKeyMaterial), tags, read;
// update valid_to (the same material again), then key_material_base64 ""
// (DeleteImportedKeyMaterial); destroy.
func TestTerraformTencentKmsExternalKey(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c, tg := newTencent(t, s, s.sk), newTag(t, s)
	ck := tckms.NewCreateKeyRequest()
	ck.Type, ck.Alias, ck.Description = common.Uint64Ptr(2), common.StringPtr("tf-external"), common.StringPtr("byok by terraform")
	id := *must(c.CreateKey(ck)).Response.KeyId
	material := []byte("0123456789abcdef0123456789abcdef")
	must(0, tcImport(t, c, id, "RSAES_OAEP_SHA_256", material))
	key, _ := readTencentKey(t, c, tg, id)
	modifyTags(tg, *key.ResourceId, map[string]string{"owner": "ops"})
	key, tags := readTencentKey(t, c, tg, id)
	if *key.KeyState != "Enabled" || *key.Origin != "EXTERNAL" || *key.Alias != "tf-external" || tags["owner"] != "ops" {
		t.Fatalf("after create: state %s origin %s alias %s tags %v", *key.KeyState, *key.Origin, *key.Alias, tags)
	}
	if key.HsmClusterId != nil && *key.HsmClusterId != "" {
		t.Fatalf("a software key shows HsmClusterId %q", *key.HsmClusterId)
	}

	// valid_to changed: the provider imports the same material again.
	must(0, tcImport(t, c, id, "RSAES_OAEP_SHA_256", material))
	// key_material_base64 emptied: DeleteImportedKeyMaterial.
	del := tckms.NewDeleteImportedKeyMaterialRequest()
	del.KeyId = common.StringPtr(id)
	must(c.DeleteImportedKeyMaterial(del))
	if key, _ = readTencentKey(t, c, tg, id); *key.KeyState != "PendingImport" {
		t.Fatalf("after DeleteImportedKeyMaterial: %s", *key.KeyState)
	}

	// Destroy: the key is not enabled, so only ScheduleKeyDeletion, then
	// the read that waits for PendingDelete.
	sd := tckms.NewScheduleKeyDeletionRequest()
	sd.KeyId, sd.PendingWindowInDays = common.StringPtr(id), common.Uint64Ptr(7)
	must(c.ScheduleKeyDeletion(sd))
	if key, _ = readTencentKey(t, c, tg, id); *key.KeyState != "PendingDelete" {
		t.Fatalf("after destroy: %s", *key.KeyState)
	}
}
