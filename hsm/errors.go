package hsm

import (
	"errors"
	"fmt"

	"github.com/miekg/pkcs11"
)

// Sentinel errors of the HSM layer. Callers match them with errors.Is; the
// PKCS#11 return code, where there is one, stays inside the wrapped error for
// logs (errors.As with pkcs11.Error).
var (
	// ErrUnavailable: the token cannot be reached now (removed, module reset,
	// no free session in time). The layer reconnects on its own.
	ErrUnavailable = errors.New("hsm unavailable")
	// ErrNotFound: no object with that id on the token.
	ErrNotFound = errors.New("hsm object not found")
	// ErrBadCiphertext is the one error every decryption or unwrap failure
	// returns, whatever the cause, so errors do not become a padding oracle.
	ErrBadCiphertext = errors.New("decryption failed")
	// ErrUnsupported: the token or this layer cannot do what was asked.
	ErrUnsupported = errors.New("not supported by this token")
	// ErrWrongPIN: the user PIN was refused.
	ErrWrongPIN = errors.New("wrong PIN")
	// ErrPINLocked: the token locked the user PIN after failed attempts.
	ErrPINLocked = errors.New("PIN locked")
	// ErrTokenNotFound: no token matches the configured label, serial or slot.
	ErrTokenNotFound = errors.New("token not found")
	// ErrModule: the module path is missing or not a PKCS#11 library.
	ErrModule = errors.New("bad PKCS#11 module")
	// ErrClosed: the HSM handle was closed.
	ErrClosed = errors.New("hsm closed")
	// ErrUnsafeKey: an existing key's attributes do not let it be trusted
	// (extractable, not sensitive, of the wrong type).
	ErrUnsafeKey = errors.New("unsafe key")
)

// failure says what a PKCS#11 error means for the session or connection it
// happened on.
type failure int

const (
	failNone        failure = iota // success, or an error about the request itself
	failNotLoggedIn                // log in again and retry
	failSession                    // the session is dead: close it, retry on another
	failHandle                     // a cached handle is stale, or the login was lost and hides the object
	failDevice                     // the token or module is gone: rebuild the connection
)

func classify(err error) failure {
	var ckr pkcs11.Error
	if !errors.As(err, &ckr) {
		return failNone
	}
	switch ckr {
	case pkcs11.CKR_USER_NOT_LOGGED_IN:
		return failNotLoggedIn
	case pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED:
		return failSession
	case pkcs11.CKR_KEY_HANDLE_INVALID, pkcs11.CKR_OBJECT_HANDLE_INVALID:
		return failHandle
	case pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_TOKEN_NOT_PRESENT,
		pkcs11.CKR_TOKEN_NOT_RECOGNIZED, pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
		pkcs11.CKR_SLOT_ID_INVALID, pkcs11.CKR_DEVICE_MEMORY:
		return failDevice
	}
	return failNone
}

// Error is a layer error whose message is meant for an operator ("wrong PIN
// for token \"kp\"") while errors.Is/As still reach both the sentinel kind and
// the PKCS#11 cause for logs.
type Error struct {
	Kind  error
	Msg   string
	Cause error
}

func (e *Error) Error() string   { return e.Msg }
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Cause} }

func newError(kind error, cause error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...), Cause: cause}
}

// loginError turns a C_Login failure into the layer's PIN errors.
func loginError(err error, token string) error {
	var ckr pkcs11.Error
	if errors.As(err, &ckr) {
		switch ckr {
		case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_LEN_RANGE, pkcs11.CKR_PIN_INVALID:
			return newError(ErrWrongPIN, err, "wrong PIN for token %q", token)
		case pkcs11.CKR_PIN_LOCKED:
			return newError(ErrPINLocked, err, "PIN locked on token %q: unlock it with the SO PIN", token)
		}
	}
	if classify(err) == failDevice {
		return newError(ErrUnavailable, err, "log in to token %q: token unavailable", token)
	}
	return fmt.Errorf("log in to token %q: %w", token, err)
}

// isCKR reports whether err carries the PKCS#11 code want.
func isCKR(err error, want uint) bool {
	var ckr pkcs11.Error
	return errors.As(err, &ckr) && uint(ckr) == want
}
