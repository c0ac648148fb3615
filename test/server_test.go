package test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/softhsm"
)

// server is a running `keyport serve` on its own token and data directory.
type server struct {
	addr   string
	ak, sk string
	tok    *softhsm.Token
	dir    string
	env    []string
	cpus   string // the CPUs it may run on (taskset's list), all if empty
	cmd    *exec.Cmd
	stderr *strings.Builder
	done   chan error
}

// startServer makes a token, runs the built binary on 127.0.0.1:0 until
// the test ends (it creates the store), and makes an access key through the
// CLI, as an operator does.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	return startServerOn(t, softhsm.New(t), extra...)
}

// startServerTLS is startServer serving HTTPS with the given certificate.
func startServerTLS(t testing.TB, certFile, keyFile string) *server {
	t.Helper()
	return startServer(t, "--tls-cert", certFile, "--tls-key", keyFile)
}

// startServerOn is startServer on a given token, with a store of its own.
func startServerOn(t testing.TB, tok *softhsm.Token, extra ...string) *server {
	t.Helper()
	s := &server{tok: tok, dir: filepath.Join(t.TempDir(), "data")}
	s.env = []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN, "KEYPORT_DATA_DIR=" + s.dir}
	s.start(t, extra...)
	r := keyport(t, s.env, "access-key", "create", "--json")
	var ak struct{ AccessKeyId, AccessKeySecret string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ak) != nil {
		t.Fatalf("access-key create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s.ak, s.sk = ak.AccessKeyId, ak.AccessKeySecret
	return s
}

func (s *server) start(t testing.TB, extra ...string) {
	t.Helper()
	s.startIn(t, "", nil, extra...)
}

// startIn runs the server in dir (the test's own if empty), its stdout
// going to stdout if given.
func (s *server) startIn(t testing.TB, dir string, stdout io.Writer, extra ...string) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--address-file", addrFile, "--pool-rsa", "2", "--pool-sm2", "2", "--pool-rsa-large", "0"}, extra...)
	if s.cpus != "" {
		// Pinned from the first instruction, so that the Go runtime sizes
		// itself (GOMAXPROCS) to these CPUs, as under CPUAffinity= or a cpuset.
		s.cmd = exec.Command("taskset", append([]string{"-c", s.cpus, keyportBin}, args...)...)
	} else {
		s.cmd = exec.Command(keyportBin, args...)
	}
	s.cmd.Dir = dir
	s.cmd.Stdout = stdout
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SOFTHSM2_CONF=" + os.Getenv("SOFTHSM2_CONF")}, s.env...)
	s.stderr = &strings.Builder{}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })
	scheme, probe := "http", http.DefaultClient
	if slices.Contains(args, "--tls-cert") {
		scheme, probe = "https", &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			s.addr = string(b)
			if resp, err := probe.Get(scheme + "://" + s.addr + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case err := <-s.done:
			s.cmd = nil // nothing left to stop
			t.Fatalf("server exited during start-up: %v\n%s", err, s.stderr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("server not ready within 60 s:\n%s", s.stderr)
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t testing.TB) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("server did not exit cleanly on SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine: what the
		// shutdown waits on.
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
		}
		t.Errorf("server did not stop within 30 s of SIGTERM; its goroutines:\n%s", s.stderr)
	}
	s.cmd = nil
	if (s.sk != "" && strings.Contains(s.stderr.String(), s.sk)) || (s.tok.PIN != "" && strings.Contains(s.stderr.String(), s.tok.PIN)) {
		t.Errorf("the server's log shows a secret or PIN")
	}
}

func (s *server) url(path string) string { return fmt.Sprintf("http://%s%s", s.addr, path) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
