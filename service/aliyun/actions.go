package aliyun

import (
	"context"
	"time"

	"github.com/keyport-kms/keyport/service"
)

type action func(ctx context.Context, h *Handler, p params) (withRequestID, error)

// actions lists every action served: the first thirteen one file each,
// the rest grouped by what they manage (key_settings, tags, aliases,
// versions, envelope).
var actions = map[string]action{
	"CreateKey":              createKey,
	"DescribeKey":            describeKey,
	"ListKeys":               listKeys,
	"EnableKey":              enableKey,
	"DisableKey":             disableKey,
	"ScheduleKeyDeletion":    scheduleKeyDeletion,
	"CancelKeyDeletion":      cancelKeyDeletion,
	"GetParametersForImport": getParametersForImport,
	"ImportKeyMaterial":      importKeyMaterial,
	"DeleteKeyMaterial":      deleteKeyMaterial,
	"Encrypt":                encrypt,
	"Decrypt":                decrypt,
	"GenerateDataKey":        generateDataKey,

	"UpdateKeyDescription":            updateKeyDescription,
	"SetDeletionProtection":           setDeletionProtection,
	"SetKeyPolicy":                    setKeyPolicy,
	"GetKeyPolicy":                    getKeyPolicy,
	"UpdateRotationPolicy":            updateRotationPolicy,
	"TagResources":                    tagResources,
	"UntagResources":                  untagResources,
	"ListTagResources":                listTagResources,
	"TagResource":                     tagResource,
	"UntagResource":                   untagResource,
	"ListResourceTags":                listResourceTags,
	"CreateAlias":                     createAlias,
	"UpdateAlias":                     updateAlias,
	"DeleteAlias":                     deleteAlias,
	"ListAliases":                     listAliases,
	"ListAliasesByKeyId":              listAliasesByKeyID,
	"CreateKeyVersion":                createKeyVersion,
	"DescribeKeyVersion":              describeKeyVersion,
	"ListKeyVersions":                 listKeyVersions,
	"GenerateDataKeyWithoutPlaintext": generateDataKeyWithoutPlaintext,
	"ReEncrypt":                       reEncrypt,
	"DescribeRegions":                 describeRegions,
	"AsymmetricSign":                  asymmetricSign,
	"AsymmetricVerify":                asymmetricVerify,
	"GetPublicKey":                    getPublicKey,
	"AsymmetricEncrypt":               asymmetricEncrypt,
	"AsymmetricDecrypt":               asymmetricDecrypt,
}

// keyMetadata is KeyMetadata as the SDKs' structs name and type it.
type keyMetadata struct {
	KeyId              string `json:"KeyId" xml:"KeyId"`
	Arn                string `json:"Arn" xml:"Arn"`
	KeyState           string `json:"KeyState" xml:"KeyState"`
	KeySpec            string `json:"KeySpec" xml:"KeySpec"`
	KeyUsage           string `json:"KeyUsage" xml:"KeyUsage"`
	Origin             string `json:"Origin" xml:"Origin"`
	ProtectionLevel    string `json:"ProtectionLevel" xml:"ProtectionLevel"`
	Description        string `json:"Description" xml:"Description"`
	CreationDate       string `json:"CreationDate" xml:"CreationDate"`
	Creator            string `json:"Creator" xml:"Creator"`
	PrimaryKeyVersion  string `json:"PrimaryKeyVersion" xml:"PrimaryKeyVersion"`
	MaterialExpireTime string `json:"MaterialExpireTime" xml:"MaterialExpireTime"`
	DeleteDate         string `json:"DeleteDate" xml:"DeleteDate"`
	AutomaticRotation  string `json:"AutomaticRotation" xml:"AutomaticRotation"`
	DeletionProtection string `json:"DeletionProtection" xml:"DeletionProtection"`

	DeletionProtectionDescription string `json:"DeletionProtectionDescription" xml:"DeletionProtectionDescription"`
	RotationInterval              string `json:"RotationInterval,omitempty" xml:"RotationInterval,omitempty"`
	NextRotationDate              string `json:"NextRotationDate,omitempty" xml:"NextRotationDate,omitempty"`
	LastRotationDate              string `json:"LastRotationDate" xml:"LastRotationDate"`
}

// stateNames: Alibaba Cloud has no Archived state (Tencent Cloud's); an
// archived key, which decrypts but does not encrypt, shows as Disabled.
var stateNames = map[service.KeyState]string{service.StateArchived: string(service.StateDisabled)}

func stateName(s service.KeyState) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return string(s)
}

func enabled(on bool) string {
	if on {
		return "Enabled"
	}
	return "Disabled"
}

// timeString is the API's time format: RFC 3339 in UTC, whole seconds; ""
// for a zero time.
func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

func (h *Handler) arn(keyID string) string {
	return "acs:kms:" + h.cfg.Region + ":" + h.cfg.AccountID + ":key/" + keyID
}

func (h *Handler) metadata(m *service.KeyMetadata) keyMetadata {
	last := timeString(m.LastRotation)
	if last == "" {
		last = timeString(m.Created) // Alibaba Cloud shows the creation date until the first rotation
	}
	return keyMetadata{
		KeyId: m.KeyID, Arn: h.arn(m.KeyID), KeyState: stateName(m.State), KeySpec: string(m.Spec), KeyUsage: string(m.Usage),
		Origin: string(m.Origin), ProtectionLevel: string(m.Protection), Description: m.Description,
		CreationDate: timeString(m.Created), Creator: h.cfg.AccountID, PrimaryKeyVersion: m.KeyVersionID,
		MaterialExpireTime: timeString(m.MaterialExpires), DeleteDate: timeString(m.DeleteDate),
		AutomaticRotation: enabled(m.AutoRotate), DeletionProtection: enabled(m.DeletionProtection),
		DeletionProtectionDescription: m.ProtectionNote, RotationInterval: intervalString(m.RotationInterval),
		NextRotationDate: timeString(m.NextRotation), LastRotationDate: last,
	}
}

// empty is the body of actions that return only a RequestId.
type empty struct{ base }
