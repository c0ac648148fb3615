package aliyun

import (
	"context"
	"time"

	"github.com/keyport-kms/keyport/service"
)

type action func(ctx context.Context, h *Handler, p params) (withRequestID, error)

// actions lists every action served, one file each.
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
	return keyMetadata{
		KeyId: m.KeyID, Arn: h.arn(m.KeyID), KeyState: string(m.State), KeySpec: string(m.Spec), KeyUsage: string(m.Usage),
		Origin: string(m.Origin), ProtectionLevel: string(m.Protection), Description: m.Description,
		CreationDate: timeString(m.Created), Creator: h.cfg.AccountID, PrimaryKeyVersion: m.KeyVersionID,
		MaterialExpireTime: timeString(m.MaterialExpires), DeleteDate: timeString(m.DeleteDate),
		AutomaticRotation: "Disabled", DeletionProtection: "Disabled",
	}
}

// empty is the body of actions that return only a RequestId.
type empty struct{ base }
