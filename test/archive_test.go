package test

import (
	"encoding/base64"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"
)

// TestArchiveStates: Tencent Cloud archives only an Enabled key, so
// ArchiveKey never revives a Disabled one; an archived key decrypts
// through Tencent Cloud's API and, since Alibaba Cloud's API shows it as
// Disabled, is refused there as a Disabled key is.
func TestArchiveStates(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	r, c := newRPC(t, s), newTencent(t, s, s.sk)
	id := r.ok("CreateKey", map[string]any{})["KeyMetadata"].(map[string]any)["KeyId"].(string)
	blob := r.ok("Encrypt", map[string]any{"KeyId": id, "Plaintext": base64.StdEncoding.EncodeToString([]byte("archived"))})["CiphertextBlob"]

	r.ok("DisableKey", map[string]any{"KeyId": id})
	ar := tckms.NewArchiveKeyRequest()
	ar.KeyId = common.StringPtr(id)
	_, err := c.ArchiveKey(ar)
	tcError(t, err, "ResourceUnavailable.CmkStateNotSupport")
	r.fails("Decrypt", map[string]any{"CiphertextBlob": blob}, 409, "Rejected.Disabled")
	if st := r.ok("DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any)["KeyState"]; st != "Disabled" {
		t.Fatalf("a Disabled key after a refused ArchiveKey: %v", st)
	}

	r.ok("EnableKey", map[string]any{"KeyId": id})
	must(c.ArchiveKey(ar))
	dec := tckms.NewDecryptRequest()
	dec.CiphertextBlob = common.StringPtr(blob.(string))
	if pt := must(c.Decrypt(dec)).Response.Plaintext; *pt != base64.StdEncoding.EncodeToString([]byte("archived")) {
		t.Fatalf("Tencent Decrypt of an archived key: %q", *pt)
	}
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = common.StringPtr(id), common.StringPtr("eA==")
	_, err = c.Encrypt(enc)
	tcError(t, err, "ResourceUnavailable.CmkStateNotSupport")
	// Alibaba Cloud's view: Disabled, and refused as Disabled, DryRun too.
	if st := r.ok("DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any)["KeyState"]; st != "Disabled" {
		t.Fatalf("Alibaba Cloud's state of an archived key: %v", st)
	}
	r.fails("Decrypt", map[string]any{"CiphertextBlob": blob}, 409, "Rejected.Disabled")
	r.fails("Decrypt", map[string]any{"CiphertextBlob": blob, "DryRun": "true"}, 409, "Rejected.Disabled")
	r.fails("ReEncrypt", map[string]any{"CiphertextBlob": blob, "DestinationKeyId": id}, 409, "Rejected.Disabled")
	listed := r.ok("ListKeys", map[string]any{"Filters": `[{"Key":"KeyState","Values":["Disabled"]}]`})
	if n := len(listed["Keys"].(map[string]any)["Key"].([]any)); n != 1 {
		t.Fatalf("ListKeys KeyState=Disabled lists %d keys, want the archived one", n)
	}
	ca := tckms.NewCancelKeyArchiveRequest()
	ca.KeyId = common.StringPtr(id)
	must(c.CancelKeyArchive(ca))
	r.ok("Decrypt", map[string]any{"CiphertextBlob": blob})
}
