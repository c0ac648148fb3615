package service

import (
	"errors"
	"fmt"
)

// Kind classifies every error the service returns. Each dialect maps each
// Kind to its own code and HTTP status in one table; errors.Is(err, Kind)
// works through any wrapping.
type Kind int

const (
	KindInternal                   Kind = iota // a bug or an unexpected store failure
	KindInvalidParameter                       // a request field is missing or malformed
	KindNotFound                               // no such key
	KindUnsupportedOrigin                      // the operation needs an EXTERNAL key, or the reverse
	KindUnsupportedProtectionLevel             // SM2 wrapping for a SOFTWARE key
	KindUnsupportedAlgorithm                   // the HSM cannot do this algorithm
	KindInvalidImportToken                     // forged, altered, for another key or algorithm, or burnt
	KindExpiredImportToken                     // past its expiry
	KindInvalidKeyMaterial                     // did not decrypt, or has the wrong length
	KindMaterialNotMatch                       // differs from the material the key had before
	KindDisabled                               // the key is Disabled
	KindPendingImport                          // the key has no material
	KindPendingDeletion                        // the key is scheduled for deletion
	KindStateConflict                          // the state does not allow this change
	KindInvalidCiphertext                      // a ciphertext blob that is malformed or does not authenticate
	KindUnavailable                            // the HSM or the store is away; try again
	KindUnknownAccessKey                       // no credential with that id
	KindAccessKeyDisabled                      // the credential is disabled
	KindInvalidRecipientKey                    // the public key a result should be encrypted to is unusable
	KindAliasNotFound                          // no alias of that name
	KindAliasExists                            // the alias name is taken
	KindInvalidAlias                           // an alias name the rules refuse
	KindDeletionProtected                      // deletion protection refuses ScheduleKeyDeletion
	KindRotationUnsupported                    // the key's material cannot rotate (EXTERNAL keys)
	KindVersionNotFound                        // no such key version
	KindNotPendingDeletion                     // CancelKeyDeletion of a key not pending deletion
	KindVersionLimit                           // the key has as many versions as it may have
	KindVersionTooSoon                         // the last version is younger than the minimum interval
	KindUserNotFound                           // no user of that name
	KindUserExists                             // the user name is taken
	KindUserInUse                              // the user still has access keys
	KindForbidden                              // the caller's policies do not allow the action on a resource
	KindInvalidKeyUsage                        // the key's usage (ENCRYPT/DECRYPT, SIGN/VERIFY) does not allow the operation
	kindEnd
)

var kindNames = [...]string{
	KindInternal:                   "internal error",
	KindInvalidParameter:           "invalid parameter",
	KindNotFound:                   "key not found",
	KindUnsupportedOrigin:          "unsupported key origin",
	KindUnsupportedProtectionLevel: "unsupported protection level",
	KindUnsupportedAlgorithm:       "unsupported algorithm",
	KindInvalidImportToken:         "invalid import token",
	KindExpiredImportToken:         "expired import token",
	KindInvalidKeyMaterial:         "invalid key material",
	KindMaterialNotMatch:           "key material does not match",
	KindDisabled:                   "key is disabled",
	KindPendingImport:              "key is pending import",
	KindPendingDeletion:            "key is pending deletion",
	KindStateConflict:              "key state does not allow this",
	KindInvalidCiphertext:          "invalid ciphertext",
	KindUnavailable:                "temporarily unavailable",
	KindUnknownAccessKey:           "access key not found",
	KindAccessKeyDisabled:          "access key disabled",
	KindInvalidRecipientKey:        "invalid recipient public key",
	KindAliasNotFound:              "alias not found",
	KindAliasExists:                "alias exists",
	KindInvalidAlias:               "invalid alias",
	KindDeletionProtected:          "key is deletion protected",
	KindRotationUnsupported:        "key material cannot rotate",
	KindVersionNotFound:            "key version not found",
	KindNotPendingDeletion:         "key is not pending deletion",
	KindVersionLimit:               "key version limit reached",
	KindVersionTooSoon:             "key version made too recently",
	KindUserNotFound:               "user not found",
	KindUserExists:                 "user exists",
	KindUserInUse:                  "user has access keys",
	KindForbidden:                  "not authorized",
	KindInvalidKeyUsage:            "key usage does not allow this",
}

// ServerFault reports whether err is the service's own failure (the HSM or
// the store away, a bug) rather than something about the request: such a
// failure must not count against the caller, as a failed authentication
// would.
func ServerFault(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == KindUnavailable || e.Kind == KindInternal)
}

// Kinds lists every Kind, for the dialects' completeness tests.
func Kinds() []Kind {
	out := make([]Kind, 0, kindEnd)
	for k := Kind(0); k < kindEnd; k++ {
		out = append(out, k)
	}
	return out
}

func (k Kind) Error() string {
	if k >= 0 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Error is a service error: a Kind, a message safe to show the caller, and
// an internal cause for the log only.
type Error struct {
	Kind  Kind
	Msg   string
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func wrapErr(kind Kind, cause error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Cause: cause}
}

// Unavailable is a KindUnavailable error for the dialects' own use of
// shared state (the replay log in the store).
func Unavailable(cause error, what string) error {
	return wrapErr(KindUnavailable, cause, "%s: temporarily unavailable, try again", what)
}

// KindOf returns the Kind of err; anything unclassified is internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for k := Kind(1); k < kindEnd; k++ {
		if errors.Is(err, k) {
			return k
		}
	}
	return KindInternal
}

// PublicMessage is what a caller may be told about err: the service's own
// message, never an internal cause.
func PublicMessage(err error) string {
	if KindOf(err) == KindInternal {
		// An internal error's cause is logged, never sent.
		return "an internal error occurred; the request id identifies it in Keyport's log"
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return KindOf(err).Error()
}
