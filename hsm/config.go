package hsm

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config says which module and token to use and how to log in.
// Exactly one of TokenLabel, TokenSerial and Slot selects the token.
type Config struct {
	Module      string // path of the PKCS#11 library
	TokenLabel  string
	TokenSerial string
	Slot        *uint
	PIN         string // user PIN; kept for logging in again after the token comes back

	MaxSessions int           // sessions this layer opens at most (default 8)
	SessionWait time.Duration // longest wait for a free session (default 5s)
	// OnSessionWait, if set, is told how long each operation waited for a
	// free session (metrics).
	OnSessionWait func(time.Duration)
	RetryInterval time.Duration // least time between two reconnect attempts (default 1s)
	// CallTimeout bounds one call into the library; past it the caller gets
	// ErrUnavailable and the connection is rebuilt once the call returns
	// (default 60s: key generation on a slow HSM takes seconds). Calls run
	// under this watchdog, which also answers a caller at its context's
	// deadline, when the module is a network HSM's client (remoteClients)
	// or when CallTimeout is set.
	CallTimeout time.Duration
	watchdog    bool

	// SM2Profile names how the token makes SM2 keys and decrypts SM2PKE
	// (SM2Profiles): "ecdh", the default, decrypts by CKM_ECDH1_DERIVE plus
	// the SM3 KDF outside the token, which works on any token with ECDH on
	// the SM2 curve (SoftHSM included); "tass", "sansec" and "luna" use those
	// vendors' SM2 key types and mechanisms.
	SM2Profile string
	sm2        SM2Profile

	// SkipProbe leaves out the slow part of the start-up capability probe
	// (throwaway RSA and SM2 key pairs), keeping the quick sealing and MAC
	// probe. For admin commands, which list, delete and seal; decryption
	// then fails with ErrUnsupported.
	SkipProbe bool

	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.MaxSessions <= 0 {
		out.MaxSessions = 8
	}
	if out.SessionWait <= 0 {
		out.SessionWait = 5 * time.Second
	}
	if out.RetryInterval <= 0 {
		out.RetryInterval = time.Second
	}
	out.sm2, _ = sm2ProfileNamed(out.SM2Profile) // Validate refused an unknown name
	out.watchdog = out.CallTimeout > 0 || isRemoteClient(out.Module)
	if out.CallTimeout <= 0 {
		out.CallTimeout = time.Minute
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	return out
}

// Validate checks the configuration without touching the module.
func (c *Config) Validate() error {
	if c.Module == "" {
		return errors.New("hsm: no PKCS#11 module given (--module or KEYPORT_PKCS11_MODULE)")
	}
	if err := checkModuleFile(c.Module); err != nil {
		return err
	}
	var selectors []string
	if c.TokenLabel != "" {
		selectors = append(selectors, "token label")
	}
	if c.TokenSerial != "" {
		selectors = append(selectors, "token serial")
	}
	if c.Slot != nil {
		selectors = append(selectors, "slot")
	}
	switch len(selectors) {
	case 0:
		return errors.New("hsm: no token selected: give a token label (--token-label or KEYPORT_TOKEN_LABEL), a serial or a slot")
	case 1:
	default:
		return fmt.Errorf("hsm: select the token one way only, got %s", strings.Join(selectors, ", "))
	}
	if c.PIN == "" {
		return errors.New("hsm: no user PIN given (KEYPORT_PIN or --pin-file)")
	}
	if c.MaxSessions == 1 {
		return errors.New("hsm: max sessions must be at least 2")
	}
	if _, err := sm2ProfileNamed(c.SM2Profile); err != nil {
		return err
	}
	return nil
}

// tokenName names the selected token in messages.
func (c *Config) tokenName() string {
	switch {
	case c.TokenLabel != "":
		return c.TokenLabel
	case c.TokenSerial != "":
		return "serial " + c.TokenSerial
	case c.Slot != nil:
		return fmt.Sprintf("slot %d", *c.Slot)
	}
	return "?"
}

func checkModuleFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return newError(ErrModule, err, "PKCS#11 module %s not found", path)
	}
	if st.IsDir() {
		return newError(ErrModule, nil, "PKCS#11 module %s is a directory, not a library", path)
	}
	return nil
}

// ReadPINFile reads a PIN from a file, dropping one trailing newline.
// An unreadable or empty file is an error, never an empty PIN.
func ReadPINFile(path string) (string, error) {
	if err := PrivateFile(path, "PIN file"); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read PIN file: %w", err)
	}
	pin := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pin == "" {
		return "", fmt.Errorf("PIN file %s is empty", path)
	}
	return pin, nil
}

// PrivateFile refuses a regular file that holds a secret (a PIN, an
// access key's secret, a configuration with a password) when its group or
// other users may read it, with the fix in the message.
func PrivateFile(path, what string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o044 != 0 {
		return fmt.Errorf("%s %s is readable by other users (mode %04o): chmod 600 %s", what, path, fi.Mode().Perm(), path)
	}
	return nil
}

// ParseURI reads an RFC 7512 PKCS#11 URI such as
//
//	pkcs11:token=keyport;slot-id=3?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// into a Config. Attributes it does not use (manufacturer, model, object…)
// are accepted and ignored, as RFC 7512 asks; a PIN given both as pin-value
// and pin-source is refused. No error repeats an attribute's value, which
// may be a PIN in the wrong place.
func ParseURI(uri string) (Config, error) {
	var c Config
	rest, ok := strings.CutPrefix(uri, "pkcs11:")
	if !ok {
		return c, errors.New("pkcs11 URI must start with \"pkcs11:\"")
	}
	path, query, _ := strings.Cut(rest, "?")
	for _, attr := range splitNonEmpty(path, ";") {
		k, v, err := uriAttr(attr)
		if err != nil {
			return c, err
		}
		switch k {
		case "token":
			c.TokenLabel = v
		case "serial":
			c.TokenSerial = v
		case "slot-id":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return c, errors.New("pkcs11 URI: slot-id is not a number")
			}
			slot := uint(n)
			c.Slot = &slot
		}
	}
	var pinSource string
	for _, attr := range splitNonEmpty(query, "&") {
		k, v, err := uriAttr(attr)
		if err != nil {
			return c, err
		}
		switch k {
		case "module-path":
			c.Module = v
		case "pin-value":
			c.PIN = v
		case "pin-source":
			pinSource = v
		}
	}
	if pinSource != "" {
		if c.PIN != "" {
			return c, errors.New("pkcs11 URI: give pin-value or pin-source, not both")
		}
		file, ok := strings.CutPrefix(pinSource, "file:")
		if !ok {
			return c, errors.New("pkcs11 URI: pin-source: only file: sources are read")
		}
		pin, err := ReadPINFile(file)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // without the path
			}
			return c, fmt.Errorf("pkcs11 URI: pin-source file: %w", err)
		}
		c.PIN = pin
	}
	return c, nil
}

func splitNonEmpty(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func uriAttr(attr string) (string, string, error) {
	k, v, ok := strings.Cut(attr, "=")
	if !ok || k == "" {
		return "", "", errors.New("pkcs11 URI: an attribute is not name=value")
	}
	val, err := url.PathUnescape(v)
	if err != nil {
		return "", "", fmt.Errorf("pkcs11 URI: attribute %q is not percent-encoded correctly", k)
	}
	return k, val, nil
}

// URIHasPINValue reports whether a pkcs11: URI carries the PIN itself
// (pin-value), which must not be given where process listings show it.
func URIHasPINValue(uri string) bool {
	_, query, _ := strings.Cut(uri, "?")
	for _, attr := range splitNonEmpty(query, "&") {
		if k, _, _ := strings.Cut(attr, "="); k == "pin-value" {
			return true
		}
	}
	return false
}
