package test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/alibabacloud-go/tea/tea"

	"github.com/keyport-kms/keyport/client/byok"
)

// aliyunStateTable is Alibaba Cloud's "Impact of CMK status on API
// operations" page as this test reads it, independently of the server's
// own table: for each action, the answer in Enabled, Disabled,
// PendingDeletion and PendingImport ("" is Success; every refusal is HTTP
// 409). UpdateAlias counts its target key's state only. The BYOK rows
// follow the actions' own pages: GetParametersForImport in any state,
// ImportKeyMaterial in all but PendingDeletion, DeleteKeyMaterial in any
// (a key pending deletion stays so).
var aliyunStateTable = []struct {
	action string
	want   [4]string
	kms    bool // needs a key whose material Keyport made (no PendingImport column)
}{
	{action: "GenerateDataKey", want: [4]string{"", "Rejected.Disabled", "Rejected.PendingDeletion", "Rejected.PendingImport"}},
	{action: "GenerateDataKeyWithoutPlaintext", want: [4]string{"", "Rejected.Disabled", "Rejected.PendingDeletion", "Rejected.PendingImport"}},
	{action: "Encrypt", want: [4]string{"", "Rejected.Disabled", "Rejected.PendingDeletion", "Rejected.PendingImport"}},
	{action: "Decrypt", want: [4]string{"", "Rejected.Disabled", "Rejected.PendingDeletion", "Rejected.PendingImport"}},
	{action: "UpdateRotationPolicy", want: [4]string{"", "Rejected.Disabled", "Rejected.PendingDeletion", ""}, kms: true},
	{action: "UpdateKeyDescription", want: [4]string{"", "", "Rejected.PendingDeletion", ""}},
	{action: "TagResource", want: [4]string{"", "", "Rejected.PendingDeletion", ""}},
	{action: "UntagResource", want: [4]string{"", "", "Rejected.PendingDeletion", ""}},
	{action: "DescribeKey", want: [4]string{"", "", "", ""}},
	{action: "EnableKey", want: [4]string{"", "", "Rejected.StateModifiedFailed", "Rejected.StateModifiedFailed"}},
	{action: "DisableKey", want: [4]string{"", "", "Rejected.StateModifiedFailed", "Rejected.StateModifiedFailed"}},
	{action: "ScheduleKeyDeletion", want: [4]string{"", "", "Rejected.StateModifiedFailed", ""}},
	{action: "CancelKeyDeletion", want: [4]string{"Rejected.StateModifiedFailed", "Rejected.StateModifiedFailed", "", "Rejected.StateModifiedFailed"}},
	{action: "CreateAlias", want: [4]string{"", "", "Rejected.StateModifiedFailed", ""}},
	{action: "UpdateAlias", want: [4]string{"", "", "Rejected.StateModifiedFailed", ""}},
	{action: "DeleteAlias", want: [4]string{"", "", "", ""}},
	{action: "GetParametersForImport", want: [4]string{"", "", "", ""}},
	{action: "ImportKeyMaterial", want: [4]string{"", "", "Rejected.PendingDeletion", ""}},
	{action: "DeleteKeyMaterial", want: [4]string{"", "", "", ""}},
}

var aliyunStates = [4]string{"Enabled", "Disabled", "PendingDeletion", "PendingImport"}

// Every row × state of the table, each on a key of its own brought into
// that state the way a client would, over HTTP with the official SDK.
func TestAliyunStateTable(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--rate-limit", "0")
	r := newRPC(t, s)
	n := 0
	for _, row := range aliyunStateTable {
		for i, state := range aliyunStates {
			if row.kms && state == "PendingImport" {
				continue // a key whose material Keyport made never lacks it
			}
			t.Run(row.action+"/"+state, func(t *testing.T) {
				defer catch(t)
				r.t = t
				n++
				k := prepareState(r, state, row.kms, n)
				params := map[string]any{"KeyId": k.id}
				switch row.action {
				case "GenerateDataKey", "GenerateDataKeyWithoutPlaintext":
					params["NumberOfBytes"] = "32"
				case "Encrypt":
					params["Plaintext"] = "cGxhaW50ZXh0"
				case "Decrypt":
					params = map[string]any{"CiphertextBlob": k.blob}
				case "UpdateRotationPolicy":
					params["EnableAutomaticRotation"] = "false"
				case "UpdateKeyDescription":
					params["Description"] = "d"
				case "TagResource":
					params["Tags"] = `[{"TagKey":"env","TagValue":"prod"}]`
				case "UntagResource":
					params["TagKeys"] = `["team"]`
				case "ScheduleKeyDeletion":
					params["PendingWindowInDays"] = "7"
				case "CreateAlias":
					params["AliasName"] = fmt.Sprintf("alias/new-%d", n)
				case "UpdateAlias":
					params["AliasName"] = k.otherAlias // now on another, Enabled key
				case "DeleteAlias":
					params = map[string]any{"AliasName": k.alias}
				case "GetParametersForImport":
					params["WrappingKeySpec"], params["WrappingAlgorithm"] = "RSA_2048", "RSAES_OAEP_SHA_256"
				case "ImportKeyMaterial":
					params["ImportToken"], params["EncryptedKeyMaterial"] = k.token, k.wrapped
				}
				_, err := r.post(row.action, params)
				want := row.want[i]
				var se *tea.SDKError
				switch {
				case want == "" && err != nil:
					t.Fatalf("%s on a %s key: %v, want success", row.action, state, err)
				case want != "" && (!errors.As(err, &se) || tea.StringValue(se.Code) != want || tea.IntValue(se.StatusCode) != 409):
					t.Fatalf("%s on a %s key: %v, want 409 %s", row.action, state, err, want)
				}
			})
		}
	}
}

type stateKey struct {
	id, blob, alias, otherAlias string
	token, wrapped              string // an import of the key's own material, prepared while Enabled
}

// prepareState makes a key (EXTERNAL with imported material, or one whose
// material Keyport made), takes what the actions need while it is Enabled
// (a ciphertext, an alias, an alias on another key, a second import of its
// material), then brings it into state.
func prepareState(r *rpc, state string, kms bool, n int) stateKey {
	r.t.Helper()
	var k stateKey
	var material []byte
	if kms {
		k.id = r.ok("CreateKey", nil)["KeyMetadata"].(map[string]any)["KeyId"].(string)
	} else {
		k.id = r.ok("CreateKey", map[string]any{"Origin": "EXTERNAL"})["KeyMetadata"].(map[string]any)["KeyId"].(string)
		material = make([]byte, 32)
		_, _ = rand.Read(material)
		token, wrapped := wrapFor(r, k.id, material)
		r.ok("ImportKeyMaterial", map[string]any{"KeyId": k.id, "ImportToken": token, "EncryptedKeyMaterial": wrapped})
		k.token, k.wrapped = wrapFor(r, k.id, material)
	}
	k.blob = r.ok("Encrypt", map[string]any{"KeyId": k.id, "Plaintext": "cGxhaW50ZXh0"})["CiphertextBlob"].(string)
	r.ok("TagResource", map[string]any{"KeyId": k.id, "Tags": `[{"TagKey":"team","TagValue":"a"}]`})
	k.alias = fmt.Sprintf("alias/state-%d", n)
	r.ok("CreateAlias", map[string]any{"KeyId": k.id, "AliasName": k.alias})
	other := r.ok("CreateKey", nil)["KeyMetadata"].(map[string]any)["KeyId"].(string)
	k.otherAlias = fmt.Sprintf("alias/other-%d", n)
	r.ok("CreateAlias", map[string]any{"KeyId": other, "AliasName": k.otherAlias})
	switch state {
	case "Disabled":
		r.ok("DisableKey", map[string]any{"KeyId": k.id})
	case "PendingDeletion":
		r.ok("ScheduleKeyDeletion", map[string]any{"KeyId": k.id, "PendingWindowInDays": "7"})
	case "PendingImport":
		r.ok("DeleteKeyMaterial", map[string]any{"KeyId": k.id})
	}
	return k
}

// wrapFor asks for import parameters and wraps material for them.
func wrapFor(r *rpc, id string, material []byte) (token, wrapped string) {
	r.t.Helper()
	p := r.ok("GetParametersForImport", map[string]any{"KeyId": id, "WrappingKeySpec": "RSA_2048", "WrappingAlgorithm": "RSAES_OAEP_SHA_256"})
	pub := must(base64.StdEncoding.DecodeString(p["PublicKey"].(string)))
	return p["ImportToken"].(string), base64.StdEncoding.EncodeToString(must(byok.Wrap(pub, "RSAES_OAEP_SHA_256", material)))
}

// tencentStateRows are the rows where Tencent Cloud's rules are its own
// (its "删除密钥" page, ArchiveKey and CancelKeyArchive): the answer in
// Enabled, Disabled, PendingDelete, PendingImport and Archived ("" is
// success). The rest follow Alibaba Cloud's table, walked above.
var tencentStateRows = []struct {
	action string
	want   [5]string
}{
	{"ScheduleKeyDeletion", [5]string{"ResourceUnavailable.CmkStateNotSupport", "", "ResourceUnavailable.CmkStateNotSupport", "", "ResourceUnavailable.CmkStateNotSupport"}},
	{"CancelKeyDeletion", [5]string{"ResourceUnavailable.CmkNotPendingDelete", "ResourceUnavailable.CmkNotPendingDelete", "", "ResourceUnavailable.CmkNotPendingDelete", "ResourceUnavailable.CmkNotPendingDelete"}},
	{"EnableKeyRotation", [5]string{"", "", "", "UnsupportedOperation.ExternalCmkCanNotRotate", ""}}, // a key pending import is EXTERNAL: no rotation
	{"ArchiveKey", [5]string{"", "ResourceUnavailable.CmkStateNotSupport", "ResourceUnavailable.CmkStateNotSupport", "ResourceUnavailable.CmkStateNotSupport", ""}},
	{"CancelKeyArchive", [5]string{"ResourceUnavailable.CmkStateNotSupport", "ResourceUnavailable.CmkStateNotSupport", "ResourceUnavailable.CmkStateNotSupport", "ResourceUnavailable.CmkStateNotSupport", ""}},
}

// Tencent Cloud's own rows, state by state, through the Tencent dialect;
// and a cancelled deletion leaves the key Disabled.
func TestTencentStateRows(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--rate-limit", "0")
	ali := newRPC(t, s)
	states := [5]string{"Enabled", "Disabled", "PendingDelete", "PendingImport", "Archived"}
	for _, row := range tencentStateRows {
		for i, state := range states {
			t.Run(row.action+"/"+state, func(t *testing.T) {
				defer catch(t)
				ali.t = t
				origin := map[string]any(nil)
				if state == "PendingImport" {
					origin = map[string]any{"Origin": "EXTERNAL"}
				}
				id := ali.ok("CreateKey", origin)["KeyMetadata"].(map[string]any)["KeyId"].(string)
				switch state {
				case "Disabled":
					ali.ok("DisableKey", map[string]any{"KeyId": id})
				case "PendingDelete":
					ali.ok("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": "7"})
				case "Archived":
					rawTC3(t, s, "ArchiveKey", `{"KeyId":"`+id+`"}`, nil)
				}
				body := `{"KeyId":"` + id + `"}`
				if row.action == "ScheduleKeyDeletion" {
					body = `{"KeyId":"` + id + `","PendingWindowInDays":7}`
				}
				got := rawTC3(t, s, row.action, body, nil)
				if got.code != row.want[i] {
					t.Fatalf("%s on a %s key: %q, want %q", row.action, state, got.raw, row.want[i])
				}
			})
		}
	}
	ali.t = t
	id := ali.ok("CreateKey", nil)["KeyMetadata"].(map[string]any)["KeyId"].(string)
	ali.ok("ScheduleKeyDeletion", map[string]any{"KeyId": id, "PendingWindowInDays": "7"})
	rawTC3(t, s, "CancelKeyDeletion", `{"KeyId":"`+id+`"}`, nil)
	if st := ali.ok("DescribeKey", map[string]any{"KeyId": id})["KeyMetadata"].(map[string]any)["KeyState"]; st != "Disabled" {
		t.Fatalf("after Tencent's CancelKeyDeletion: %v, want Disabled", st)
	}
}
