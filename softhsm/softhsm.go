// Package softhsm finds the SoftHSM2 PKCS#11 module and makes token
// directories and throwaway tokens on it, for tests and `keyport serve --dev`.
package softhsm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// ModuleEnv overrides where the PKCS#11 module is looked for.
const ModuleEnv = "KEYPORT_PKCS11_MODULE"

// modulePaths are where distributions install libsofthsm2.so.
var modulePaths = []string{
	"/usr/lib/softhsm/libsofthsm2.so",                   // Debian, Ubuntu
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",  // Debian multiarch
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", // Debian multiarch
	"/usr/lib64/pkcs11/libsofthsm2.so",                  // Fedora, RHEL
	"/usr/lib64/softhsm/libsofthsm.so",                  // Fedora compat link
	"/usr/local/lib/softhsm/libsofthsm2.so",             // source builds
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",          // macOS, Apple silicon
	"/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so", // macOS, Intel
}

// ErrNotInstalled says SoftHSM2 is not on this machine.
var ErrNotInstalled = errors.New("SoftHSM2 not found: install softhsm2 (apt-get install softhsm2) or set " + ModuleEnv)

// FindModule returns the module path: $KEYPORT_PKCS11_MODULE if set (it
// must exist), else the first of the usual install paths that exists.
func FindModule() (string, error) {
	if p := os.Getenv(ModuleEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", ModuleEnv, p, err)
		}
		return p, nil
	}
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Util returns the path of softhsm2-util.
func Util() (string, error) {
	p, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// Dir is a SoftHSM2 token directory with its own configuration file.
// SoftHSM reads SOFTHSM2_CONF when the module is initialised, so a process
// uses one Dir at a time: call Activate before opening the module.
type Dir struct {
	Root   string // holds softhsm2.conf and tokens/
	Conf   string
	Tokens string
}

// NewDir creates (or reuses) a token directory under root.
func NewDir(root string) (*Dir, error) {
	d := &Dir{Root: root, Conf: filepath.Join(root, "softhsm2.conf"), Tokens: filepath.Join(root, "tokens")}
	if err := os.MkdirAll(d.Tokens, 0o700); err != nil {
		return nil, fmt.Errorf("softhsm dir: %w", err)
	}
	conf := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", d.Tokens)
	if err := os.WriteFile(d.Conf, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("softhsm config: %w", err)
	}
	return d, nil
}

// Activate points this process (and its children) at the directory.
func (d *Dir) Activate() { os.Setenv("SOFTHSM2_CONF", d.Conf) }

// Env returns the environment entry that selects the directory, for children.
func (d *Dir) Env() string { return "SOFTHSM2_CONF=" + d.Conf }

// Token is a token on a Dir, with the PINs it was made with.
type Token struct {
	Module string
	Dir    *Dir
	Label  string
	PIN    string
	SOPIN  string
}

// NewToken initialises a token labelled label in the first free slot, with
// random PINs, using softhsm2-util in a child process.
func (d *Dir) NewToken(label string) (*Token, error) {
	module, err := FindModule()
	if err != nil {
		return nil, err
	}
	util, err := Util()
	if err != nil {
		return nil, err
	}
	t := &Token{Module: module, Dir: d, Label: label, PIN: RandomPIN(), SOPIN: RandomPIN()}
	cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", t.SOPIN, "--pin", t.PIN)
	cmd.Env = append(os.Environ(), d.Env())
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return t, nil
}

// RandomPIN returns a fresh 16-hex-digit PIN.
func RandomPIN() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// Installed reports whether the module and softhsm2-util are both present.
func Installed() bool {
	_, errM := FindModule()
	_, errU := Util()
	return errM == nil && errU == nil && runtime.GOOS != "windows"
}
