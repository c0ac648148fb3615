package tencent

import (
	"github.com/keyport-kms/keyport/service"
)

// apiError is an error in Tencent Cloud's terms. Every answer is HTTP 200.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// kindCodes maps every service Kind to Tencent Cloud KMS's error code.
// TestEveryKindMapped keeps it complete.
var kindCodes = map[service.Kind]string{
	service.KindInternal:                   "InternalError",
	service.KindInvalidParameter:           "InvalidParameter",
	service.KindNotFound:                   "ResourceUnavailable.CmkNotFound",
	service.KindUnsupportedOrigin:          "UnsupportedOperation.NotExternalCmk",
	service.KindUnsupportedProtectionLevel: "UnsupportedOperation",
	service.KindUnsupportedAlgorithm:       "UnsupportedOperation",
	service.KindInvalidImportToken:         "InvalidParameter",
	service.KindExpiredImportToken:         "ResourceUnavailable.TokenExpired",
	service.KindInvalidKeyMaterial:         "InvalidParameter.DecryptMaterialError",
	service.KindMaterialNotMatch:           "InvalidParameterValue.MaterialNotMatch",
	service.KindDisabled:                   "ResourceUnavailable.CmkDisabled",
	service.KindPendingImport:              "ResourceUnavailable.CmkStateNotSupport",
	service.KindPendingDeletion:            "ResourceUnavailable.KeyPendingDelete",
	service.KindStateConflict:              "ResourceUnavailable.CmkStateNotSupport",
	service.KindInvalidCiphertext:          "InvalidParameterValue.InvalidCiphertext",
	service.KindUnavailable:                "UnsupportedOperation.ServiceTemporaryUnavailable",
	service.KindUnknownAccessKey:           "AuthFailure.SecretIdNotFound",
	service.KindAccessKeyDisabled:          "AuthFailure.SecretIdNotFound",
	service.KindInvalidRecipientKey:        "InvalidParameterValue",
	service.KindAliasNotFound:              "ResourceUnavailable.CmkNotFound",
	service.KindAliasExists:                "InvalidParameterValue.AliasAlreadyExists",
	service.KindInvalidAlias:               "InvalidParameterValue.InvalidAlias",
	service.KindDeletionProtected:          "UnsupportedOperation",
	service.KindRotationUnsupported:        "UnsupportedOperation.ExternalCmkCanNotRotate",
	service.KindVersionNotFound:            "ResourceUnavailable.CmkNotFound",
	service.KindNotPendingDeletion:         "ResourceUnavailable.CmkNotPendingDelete",
	service.KindVersionLimit:               "LimitExceeded",
	service.KindVersionTooSoon:             "UnsupportedOperation",
	// Users are managed by the admin CLI, never through this API.
	service.KindUserNotFound:    "ResourceNotFound",
	service.KindUserExists:      "ResourceInUse",
	service.KindUserInUse:       "ResourceInUse",
	service.KindForbidden:       "AuthFailure.UnauthorizedOperation",
	service.KindInvalidKeyUsage: "UnsupportedOperation",
}

// protocolCodes are the codes answered outside kindCodes (protocol errors,
// the actions' own); with kindCodes's they are the closed set of codes
// metrics label by. TestCodesClosed keeps it complete.
var protocolCodes = []string{"MissingParameter", "InvalidParameter", "InvalidParameterValue", "AuthFailure.SignatureFailure",
	"AuthFailure.SignatureExpire", "AuthFailure.InvalidAuthorization", "AuthFailure.SecretIdNotFound", "RequestLimitExceeded",
	"RequestSizeLimitExceeded", "InvalidParameterValue.InvalidKeyId", "InvalidAction", "NoSuchVersion", "ResourceNotFound",
	"InvalidParameterValue.InvalidKeyUsage", "InvalidParameterValue.InvalidType", "InvalidParameterValue.InvalidPlaintext",
	"ResourceUnavailable.CmkDisabled", "InvalidParameter.InvalidPendingWindowInDays"}

var codeSet = func() map[string]bool {
	set := map[string]bool{}
	for _, c := range kindCodes {
		set[c] = true
	}
	for _, c := range protocolCodes {
		set[c] = true
	}
	return set
}()

// knownCode reports whether code is one this dialect answers.
func knownCode(code string) bool { return codeSet[code] }

func toAPIError(err error) *apiError {
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	kind := service.KindOf(err)
	code, ok := kindCodes[kind]
	if !ok {
		code = kindCodes[service.KindInternal]
	}
	msg := service.PublicMessage(err)
	return &apiError{Code: code, Message: msg}
}

func missingParameter(name string) *apiError {
	return &apiError{"MissingParameter", "the parameter `" + name + "` is required"}
}

func invalidParameter(name, why string) *apiError {
	return &apiError{"InvalidParameter", "the parameter `" + name + "` is not valid: " + why}
}

var (
	errSignature = &apiError{"AuthFailure.SignatureFailure", "the request signature does not match"}
	errExpired   = &apiError{"AuthFailure.SignatureExpire", "X-TC-Timestamp is missing or more than 5 minutes from the server's time"}
	errThrottled = &apiError{"RequestLimitExceeded", "too many requests for this SecretId; slow down"}
	// errBlocked refuses a request unread: its address is over its budget
	// of failed authentications.
	errActionUnsigned = &apiError{"AuthFailure.SignatureFailure", "this server signs strictly: SignedHeaders must include x-tc-action"}
	errBlocked        = &apiError{"RequestLimitExceeded", "too many failed authentications from this address; try again later"}
	errBodySize       = &apiError{"RequestSizeLimitExceeded", "the request body is larger than 64 KiB"}
	errNotJSON        = &apiError{"InvalidParameter", "the request body must be a JSON object with Content-Type application/json"}
	errUnsigned       = &apiError{"AuthFailure.SignatureFailure", "UNSIGNED-PAYLOAD is not accepted: sign the body"}
	errInvalidKeyID   = &apiError{"InvalidParameterValue.InvalidKeyId", "KeyId is not a key id"}
)

func unknownAction(action string) *apiError {
	return &apiError{"InvalidAction", "the action " + action + " is not supported by Keyport's KMS API"}
}
