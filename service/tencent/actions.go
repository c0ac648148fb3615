package tencent

import (
	"context"
	"strconv"

	"github.com/keyport-kms/keyport/service"
)

type action func(ctx context.Context, h *Handler, body []byte) (withRequestID, error)

// actions lists every KMS action served: the first thirteen one file
// each, the rest grouped by what they manage, with the same file names as
// the Alibaba Cloud dialect where the concern is the same (aliases,
// key_settings, list_keys, envelope, tags), and batch (EnableKeys,
// DisableKeys, DescribeKeys) and service_info (GenerateRandom,
// GetServiceStatus, ListAlgorithms) for Tencent's own. tagActions are the
// tag service's.
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

	"UpdateAlias":          updateAlias,
	"UpdateKeyDescription": updateKeyDescription,
	"EnableKeyRotation":    enableKeyRotation,
	"DisableKeyRotation":   disableKeyRotation,
	"GetKeyRotationStatus": getKeyRotationStatus,
	"ArchiveKey":           archiveKey,
	"CancelKeyArchive":     cancelKeyArchive,
	"EnableKeys":           enableKeys,
	"DisableKeys":          disableKeys,
	"ListKeyDetail":        listKeyDetail,
	"DescribeKeys":         describeKeys,
	"ReEncrypt":            reEncrypt,
	"GenerateRandom":       generateRandom,
	"GetServiceStatus":     getServiceStatus,
	"ListAlgorithms":       listAlgorithms,

	"SignByAsymmetricKey":   signByAsymmetricKey,
	"VerifyByAsymmetricKey": verifyByAsymmetricKey,
	"GetPublicKey":          getPublicKey,
	"AsymmetricRsaDecrypt":  asymmetricRsaDecrypt,
	"AsymmetricSm2Decrypt":  asymmetricSm2Decrypt,
}

// Tencent Cloud's names for the service's values.
var (
	stateNames = map[service.KeyState]string{service.StatePendingDeletion: "PendingDelete"}
	// typeNumbers are KeyMetadata.Type: 2 for keys of the FIPS-compliant
	// AES, 4 for keys of the Chinese standard SM4.
	typeNumbers = map[service.KeySpec]int64{service.SpecAES256: 2, service.SpecSM4: 4}
	originNames = map[service.Origin]string{service.OriginKMS: "TENCENT_KMS", service.OriginExternal: "EXTERNAL"}
)

const usageEncryptDecrypt = "ENCRYPT_DECRYPT"

// asymmetricKind is an asymmetric key as the service knows it.
type asymmetricKind struct {
	spec  service.KeySpec
	usage service.KeyUsage
}

// asymmetricUsages are Tencent Cloud's KeyUsage values for the asymmetric
// keys Keyport makes, each one spec and usage (the one other it
// documents, ECDSA384, is not served yet).
var asymmetricUsages = map[string]asymmetricKind{
	"ASYMMETRIC_SIGN_VERIFY_RSA_2048": {service.SpecRSA2048, service.UsageSignVerify},
	"ASYMMETRIC_SIGN_VERIFY_ECC":      {service.SpecECP256, service.UsageSignVerify},
	"ASYMMETRIC_SIGN_VERIFY_SM2":      {service.SpecECSM2, service.UsageSignVerify},
	"ASYMMETRIC_DECRYPT_RSA_2048":     {service.SpecRSA2048, service.UsageEncryptDecrypt},
	"ASYMMETRIC_DECRYPT_SM2":          {service.SpecECSM2, service.UsageEncryptDecrypt},
}

// usageName is a key's KeyUsage as Tencent Cloud names it.
func usageName(m *service.KeyMetadata) string {
	for name, kind := range asymmetricUsages {
		if m.Spec == kind.spec && m.Usage == kind.usage {
			return name
		}
	}
	switch { // made through the Alibaba Cloud API with a spec Tencent Cloud has no name for
	case m.Spec.Asymmetric() && m.Usage == service.UsageSignVerify:
		return "ASYMMETRIC_SIGN_VERIFY_" + string(m.Spec)
	case m.Spec.Asymmetric():
		return "ASYMMETRIC_DECRYPT_" + string(m.Spec)
	}
	return usageEncryptDecrypt
}

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

// metadata shows a key; HsmClusterId is what the caller gave CreateKey
// for an HSM-level key (Tencent Cloud's API has no protection level, only
// the HSM cluster a key lives in), and none for a software key.
func (h *Handler) metadata(m *service.KeyMetadata) keyMetadata {
	out := keyMetadata{
		KeyId: m.KeyID, Alias: m.Alias, CreateTime: unix(m.Created), Description: m.Description,
		KeyState: stateName(m.State), KeyUsage: usageName(m), Type: typeNumbers[m.Spec], Owner: "user",
		CreatorUin: h.creatorUin, DeletionDate: unix(m.DeleteDate), Origin: originNames[m.Origin], ValidTo: unix(m.MaterialExpires),
		ResourceId: h.resourceID(m.KeyID), KeyRotationEnabled: m.AutoRotate, NextRotateTime: unix(m.NextRotation),
	}
	if m.Protection == service.ProtectionHSM {
		out.HsmClusterId = m.HSMCluster
		if out.HsmClusterId == "" {
			out.HsmClusterId = defaultHSMCluster // an HSM-level key made through Alibaba Cloud's API
		}
	}
	return out
}

// defaultHSMCluster is what an HSM-level key made without an HsmClusterId
// shows as one.
const defaultHSMCluster = "keyport-hsm"

// resourceID is KeyMetadata.ResourceId, the tail of the key's tag resource
// name: creatorUin/UIN/KEYID.
func (h *Handler) resourceID(keyID string) string {
	return "creatorUin/" + strconv.FormatUint(h.creatorUin, 10) + "/" + keyID
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
