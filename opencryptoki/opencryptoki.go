// Package opencryptoki gives tests IBM openCryptoki's software token, a
// second PKCS#11 implementation independent of SoftHSM2: no AES-GCM, no EC,
// native RSA OAEP-SHA-256 and C_UnwrapKey that reports the unwrapped length.
// The token and its slot daemon (pkcsslotd) are machine-wide, so a test
// holds it alone (a file lock, across test processes) and gets it back in
// its factory state, initialised with a fresh label and PIN.
package opencryptoki

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/softhsm"
)

const (
	// Slot is the soft token's slot in Debian's /etc/opencryptoki/opencryptoki.conf.
	Slot = 3
	// DefaultSOPIN is the factory SO PIN. It is never changed: 3.8.1 cannot
	// initialise a token again after its SO PIN was changed.
	DefaultSOPIN = "87654321"
	tokenDir     = "/var/lib/opencryptoki/swtok"
	shmSegment   = "/dev/shm/var.lib.opencryptoki.swtok"
	lockFile     = "/var/lib/opencryptoki/keyport-test.lock"
)

var modulePaths = []string{
	"/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so",
	"/usr/lib/aarch64-linux-gnu/pkcs11/libopencryptoki.so",
	"/usr/lib64/opencryptoki/libopencryptoki.so",
	"/usr/lib/opencryptoki/libopencryptoki.so",
}

// ErrNotInstalled says openCryptoki is not on this machine.
var ErrNotInstalled = errors.New("openCryptoki not found: install opencryptoki (apt-get install opencryptoki; `make deps` does)")

// FindModule returns the path of libopencryptoki.so.
func FindModule() (string, error) {
	for _, p := range modulePaths {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Require stops the test when openCryptoki cannot be used here: a skip on
// a laptop, a failure under CI=true.
func Require(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs openCryptoki")
	}
	module, err := FindModule()
	if err == nil {
		_, err = slotDaemon()
	}
	if err == nil && os.Getuid() != 0 {
		err = errors.New("openCryptoki's slot daemon and token files need root")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
	return module
}

// New takes the soft token for this test: locked against other tests,
// reset to factory state, initialised with a fresh label and user PIN, and
// reset again when the test ends. Open the HSM after New.
func New(t testing.TB) *softhsm.Token {
	t.Helper()
	module := Require(t)
	if _, err := exec.LookPath("pkcsconf"); err != nil {
		if _, err := os.Stat("/usr/sbin/pkcsconf"); err != nil {
			t.Fatal("pkcsconf (opencryptoki) not found")
		}
	}
	lock, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		_ = reset()
		if started {
			stopDaemon() // a test stops what it started, under the lock
		}
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})
	if started, err = startDaemon(); err != nil {
		t.Fatal(err)
	}
	if err := reset(); err != nil {
		t.Fatal(err)
	}
	digits := func() string { n, _ := rand.Int(rand.Reader, big.NewInt(1e8)); return fmt.Sprintf("%08d", n) }
	// The soft token takes PINs of 4 to 8 characters.
	tok := &softhsm.Token{Module: module, Label: "kp-" + digits(), PIN: digits(), SOPIN: DefaultSOPIN}
	if err := initToken(tok); err != nil {
		t.Fatalf("initialise the openCryptoki soft token: %v", err)
	}
	return tok
}

// initToken initialises the token and its user PIN with pkcsconf, in a
// process of its own: this one must not load openCryptoki (see OwnProcess).
func initToken(tok *softhsm.Token) error {
	conf, err := exec.LookPath("pkcsconf")
	if err != nil {
		conf = "/usr/sbin/pkcsconf"
	}
	slot := strconv.Itoa(Slot)
	for _, step := range []struct{ flag, input string }{
		{"-I", DefaultSOPIN + "\n" + tok.Label + "\n"},
		{"-u", DefaultSOPIN + "\n" + tok.PIN + "\n" + tok.PIN + "\n"},
	} {
		cmd := exec.Command(conf, step.flag, "-c", slot)
		cmd.Stdin = strings.NewReader(step.input)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pkcsconf %s: %v: %s", step.flag, err, out)
		}
	}
	return nil
}

const childEnv = "KEYPORT_OPENCRYPTOKI_CHILD"

// OwnProcess runs the calling test alone in a child process of the test
// binary and reports whether this is that child. openCryptoki's
// C_Initialize crashes (SIGSEGV) in a process where SoftHSM2 was loaded and
// finalised before, so a test that loads openCryptoki itself must not share
// its process with SoftHSM2 tests:
//
//	if !opencryptoki.OwnProcess(t) { return }
func OwnProcess(t *testing.T) bool {
	t.Helper()
	if os.Getenv(childEnv) == t.Name() {
		return true
	}
	Require(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	return false
}

// reset brings the soft token back to its factory state: its files and
// its shared memory segment removed (no process holds the token between
// tests: each closes its HSM, which finalises the module).
func reset() error {
	for _, f := range []string{"NVTOK.DAT", "MK_SO", "MK_USER"} {
		if err := os.Remove(filepath.Join(tokenDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	objs, _ := filepath.Glob(filepath.Join(tokenDir, "TOK_OBJ", "*"))
	for _, o := range objs {
		if err := os.Remove(o); err != nil {
			return err
		}
	}
	if err := os.Remove(shmSegment); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// slotDaemon finds pkcsslotd, in /usr/sbin where PATH may not lead.
func slotDaemon() (string, error) {
	if p, err := exec.LookPath("pkcsslotd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/pkcsslotd"); err == nil {
		return "/usr/sbin/pkcsslotd", nil
	}
	return "", fmt.Errorf("%w (no pkcsslotd)", ErrNotInstalled)
}

// startDaemon starts pkcsslotd unless it runs (it daemonises itself), and
// says whether it started it.
func startDaemon() (started bool, err error) {
	if running() {
		return false, nil
	}
	daemon, err := slotDaemon()
	if err != nil {
		return false, err
	}
	if out, err := exec.Command(daemon).CombinedOutput(); err != nil {
		return false, fmt.Errorf("start pkcsslotd: %v: %s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if running() {
			return true, nil
		}
	}
	return true, errors.New("pkcsslotd did not start")
}

// stopDaemon stops pkcsslotd and waits, briefly, until it has gone.
func stopDaemon() {
	for _, pid := range daemonPIDs() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(5 * time.Second); running() && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
}

// running looks for pkcsslotd among the processes (no pgrep needed).
func running() bool { return len(daemonPIDs()) > 0 }

func daemonPIDs() []int {
	var pids []int
	comms, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, c := range comms {
		if b, err := os.ReadFile(c); err == nil && strings.TrimSpace(string(b)) == "pkcsslotd" {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(c))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
