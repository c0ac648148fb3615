package aliyun

import (
	"net/http"

	"github.com/keyport-kms/keyport/service"
)

// apiError is an error in Alibaba Cloud's terms.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// kindCodes maps every service Kind to Alibaba Cloud KMS's code and status.
// TestEveryKindMapped keeps it complete.
var kindCodes = map[service.Kind]struct {
	status int
	code   string
}{
	service.KindInternal:                   {http.StatusInternalServerError, "InternalFailure"},
	service.KindInvalidParameter:           {http.StatusBadRequest, "InvalidParameter"},
	service.KindNotFound:                   {http.StatusNotFound, "Forbidden.KeyNotFound"},
	service.KindUnsupportedOrigin:          {http.StatusBadRequest, "Unsupported.Origin"},
	service.KindUnsupportedProtectionLevel: {http.StatusBadRequest, "Unsupported.ProtectionLevel"},
	service.KindUnsupportedAlgorithm:       {http.StatusBadRequest, "Rejected.UnsupportedOperation"},
	service.KindInvalidImportToken:         {http.StatusBadRequest, "InvalidImportToken"},
	service.KindExpiredImportToken:         {http.StatusBadRequest, "ExpiredImportToken"},
	service.KindInvalidKeyMaterial:         {http.StatusBadRequest, "InvalidKeyMaterial"},
	service.KindMaterialNotMatch:           {http.StatusBadRequest, "InvalidKeyMaterial"},
	service.KindDisabled:                   {http.StatusConflict, "Rejected.Disabled"},
	service.KindPendingImport:              {http.StatusConflict, "Rejected.PendingImport"},
	service.KindPendingDeletion:            {http.StatusConflict, "Rejected.PendingDeletion"},
	service.KindStateConflict:              {http.StatusConflict, "Rejected.StateModifiedFailed"},
	service.KindInvalidCiphertext:          {http.StatusBadRequest, "InvalidParameter"},
	service.KindUnavailable:                {http.StatusServiceUnavailable, "ServiceUnavailableTemporary"},
	service.KindUnknownAccessKey:           {http.StatusNotFound, "InvalidAccessKeyId.NotFound"},
	service.KindAccessKeyDisabled:          {http.StatusForbidden, "Forbidden.AccessKey"},
	service.KindInvalidRecipientKey:        {http.StatusBadRequest, "InvalidParameter"},
	service.KindAliasNotFound:              {http.StatusNotFound, "Forbidden.AliasNotFound"},
	service.KindAliasExists:                {http.StatusBadRequest, "InvalidParameter"}, // CreateAlias documents no other
	service.KindInvalidAlias:               {http.StatusBadRequest, "InvalidParameter"},
	service.KindDeletionProtected:          {http.StatusConflict, "Rejected.StateModifiedFailed"},
	service.KindRotationUnsupported:        {http.StatusBadRequest, "Rejected.UnsupportedOperation"},
	service.KindVersionNotFound:            {http.StatusNotFound, "Forbidden.ResourceNotFound"},
	service.KindNotPendingDeletion:         {http.StatusConflict, "Rejected.StateModifiedFailed"},
	service.KindVersionLimit:               {http.StatusConflict, "Rejected.LimitExceeded"},          // the quota code of Alibaba Cloud's limits page
	service.KindVersionTooSoon:             {http.StatusBadRequest, "Rejected.UnsupportedOperation"}, // CreateKeyVersion's documented refusal
	// Users are managed by the admin CLI, never through this API; RAM's codes.
	service.KindUserNotFound: {http.StatusNotFound, "EntityNotExist.User"},
	service.KindUserExists:   {http.StatusConflict, "EntityAlreadyExists.User.Name"},
	service.KindUserInUse:    {http.StatusConflict, "DeleteConflict.User.AccessKey"},
	service.KindForbidden:    {http.StatusForbidden, "Forbidden.NoPermission"},
	// Alibaba Cloud documents no code of its own for a key of the wrong
	// usage; UnsupportedOperation is what its other refusals of an
	// operation a key cannot do answer.
	service.KindInvalidKeyUsage: {http.StatusBadRequest, "Rejected.UnsupportedOperation"},
}

// protocolCodes are the codes answered outside kindCodes (protocol errors,
// DryRun); with kindCodes's they are the closed set of codes metrics label
// by. TestCodesClosed keeps it complete.
var protocolCodes = []string{"DryRunOperation", "MissingParameter", "InvalidParameter", "IncompleteSignature", "IllegalTimestamp",
	"SignatureNonceUsed", "Throttling", "InvalidAction.NotFound", "InvalidVersion", "InvalidAccessKeyId.NotFound"}

var codeSet = func() map[string]bool {
	set := map[string]bool{}
	for _, c := range kindCodes {
		set[c.code] = true
	}
	for _, c := range protocolCodes {
		set[c] = true
	}
	return set
}()

// knownCode reports whether code is one this dialect answers.
func knownCode(code string) bool { return codeSet[code] }

// toAPIError turns any error into what the caller is told. An internal
// error's cause is logged by the handler, never sent.
func toAPIError(err error) *apiError {
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	kind := service.KindOf(err)
	c, ok := kindCodes[kind]
	if !ok {
		c = kindCodes[service.KindInternal]
	}
	msg := service.PublicMessage(err)
	return &apiError{Status: c.status, Code: c.code, Message: msg}
}

// Protocol errors, before the service is reached.
func missingParameter(name string) *apiError {
	return &apiError{http.StatusBadRequest, "MissingParameter", "the input parameter " + name + " that is mandatory for processing this request is not supplied"}
}

func invalidParameter(name, why string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameter", "the parameter " + name + " is not valid: " + why}
}

var (
	errSignature = &apiError{http.StatusBadRequest, "IncompleteSignature", "the request signature does not conform to Alibaba Cloud standards"}
	errTimestamp = &apiError{http.StatusBadRequest, "IllegalTimestamp", "the Timestamp or x-acs-date is missing, malformed, or more than 15 minutes from the server's time"}
	errNonceUsed = &apiError{http.StatusBadRequest, "SignatureNonceUsed", "the SignatureNonce has been used before"}
	errThrottled = &apiError{http.StatusBadRequest, "Throttling", "request was denied due to request throttling; slow down"}
	// errBlocked refuses a request unread: its address is over its budget
	// of failed authentications.
	errBlocked  = &apiError{http.StatusBadRequest, "Throttling", "too many failed authentications from this address; try again later"}
	errBodySize = &apiError{http.StatusBadRequest, "InvalidParameter", "the request body is larger than 64 KiB"}
)

func unknownAction(action string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidAction.NotFound", "the action " + action + " is not supported by Keyport's KMS API"}
}
