package tencent

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type action func(ctx context.Context, h *Handler, body []byte) (withRequestID, error)

// actions lists every action served, one file each.
var actions = map[string]action{
	"CreateKey":                 createKey,
	"DescribeKey":               describeKey,
	"ListKeys":                  listKeys,
	"EnableKey":                 enableKey,
	"DisableKey":                disableKey,
	"ScheduleKeyDeletion":       scheduleKeyDeletion,
	"CancelKeyDeletion":         cancelKeyDeletion,
	"GetParametersForImport":    getParametersForImport,
	"ImportKeyMaterial":         importKeyMaterial,
	"DeleteImportedKeyMaterial": deleteImportedKeyMaterial,
	"Encrypt":                   encrypt,
	"Decrypt":                   decrypt,
	"GenerateDataKey":           generateDataKey,
}

// Tencent Cloud's names for the service's values.
var (
	stateNames  = map[service.KeyState]string{service.StatePendingDeletion: "PendingDelete"}
	originNames = map[service.Origin]string{service.OriginKMS: "TENCENT_KMS", service.OriginExternal: "EXTERNAL"}
)

const usageEncryptDecrypt = "ENCRYPT_DECRYPT"

func stateName(s service.KeyState) string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return string(s)
}

// keyMetadata is KeyMetadata as tencentcloud-sdk-go's struct names and
// types it: times are Unix seconds.
type keyMetadata struct {
	KeyId        string `json:"KeyId"`
	Alias        string `json:"Alias"`
	CreateTime   uint64 `json:"CreateTime"`
	Description  string `json:"Description"`
	KeyState     string `json:"KeyState"`
	KeyUsage     string `json:"KeyUsage"`
	Type         int64  `json:"Type"`
	CreatorUin   uint64 `json:"CreatorUin"`
	Owner        string `json:"Owner"`
	DeletionDate uint64 `json:"DeletionDate"`
	Origin       string `json:"Origin"`
	ValidTo      uint64 `json:"ValidTo"`
	ResourceId   string `json:"ResourceId"`
	HsmClusterId string `json:"HsmClusterId"`

	KeyRotationEnabled bool   `json:"KeyRotationEnabled"`
	NextRotateTime     uint64 `json:"NextRotateTime"`
}

// hsmClusterID is what HSM-level keys show as HsmClusterId, and what a
// caller passes to CreateKey to ask for one: Tencent Cloud's API has no
// protection level, only the HSM cluster a key lives in.
const hsmClusterID = "keyport-hsm"

func metadata(m *service.KeyMetadata) keyMetadata {
	out := keyMetadata{
		KeyId: m.KeyID, Alias: m.Alias, CreateTime: unix(m.Created), Description: m.Description,
		KeyState: stateName(m.State), KeyUsage: usageEncryptDecrypt, Type: 1, Owner: "user",
		DeletionDate: unix(m.DeleteDate), Origin: originNames[m.Origin], ValidTo: unix(m.MaterialExpires),
		ResourceId: "creatorUin/0/" + m.KeyID,
	}
	if m.Protection == service.ProtectionHSM {
		out.HsmClusterId = hsmClusterID
	}
	return out
}

// empty is the body of actions that return only a RequestId.
type empty struct{ base }

// keyRequest is the body of actions that take only a KeyId.
type keyRequest struct {
	KeyId *string
}

// withKey decodes a KeyId-only body and runs fn with the id.
func withKey(body []byte, fn func(id string) error) (withRequestID, error) {
	var req keyRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	return &empty{}, fn(id)
}
