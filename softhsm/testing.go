package softhsm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	mainDir   *Dir
	mainDirMu sync.Mutex
)

// Main is for TestMain: it gives the test process one private token
// directory (SOFTHSM2_CONF is read once per module initialisation), runs the
// tests and removes the directory.
func Main(m *testing.M) int {
	root, err := os.MkdirTemp("", "keyport-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "softhsm:", err)
		return 1
	}
	defer os.RemoveAll(root)
	d, err := NewDir(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "softhsm:", err)
		return 1
	}
	d.Activate()
	mainDirMu.Lock()
	mainDir = d
	mainDirMu.Unlock()
	return m.Run()
}

// Require stops the test when SoftHSM2 is missing: a skip on a laptop, a
// failure under CI=true, where a skipped HSM test would hide a broken set-up.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs SoftHSM2")
	}
	if Installed() {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %v", ErrNotInstalled)
	}
	t.Skip(ErrNotInstalled)
}

// New makes a fresh token with a unique label in the process's directory
// (see Main). Tokens made after the module was initialised are seen only
// after it is initialised again, so open each test's HSM after New.
func New(t testing.TB) *Token {
	t.Helper()
	Require(t)
	mainDirMu.Lock()
	d := mainDir
	mainDirMu.Unlock()
	if d == nil {
		t.Fatal("softhsm.New needs softhsm.Main in TestMain")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	tok, err := d.NewToken("t-" + hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
