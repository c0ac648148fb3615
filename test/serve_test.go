package test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/softhsm"
)

// Start-up mistakes end with one clear line and exit status 1.
func TestServeConfigErrors(t *testing.T) {
	tok := softhsm.New(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(notADir, nil, 0o600)
	good := []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN, "KEYPORT_DATA_DIR=" + t.TempDir()}
	with := func(kv ...string) []string {
		env := append([]string{}, good...)
		for _, s := range kv {
			k, _, _ := strings.Cut(s, "=")
			for i := range env {
				if strings.HasPrefix(env[i], k+"=") {
					env[i] = s
				}
			}
		}
		return env
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		msg  string
	}{
		{"missing module", with("KEYPORT_PKCS11_MODULE=/nonexistent/libsofthsm2.so"), nil, "PKCS#11 module /nonexistent/libsofthsm2.so not found"},
		{"wrong PIN", with("KEYPORT_PIN=wrong"), nil, "wrong PIN"},
		{"unknown token", with("KEYPORT_TOKEN_LABEL=nope"), nil, `token "nope" not found`},
		{"unwritable data dir", with("KEYPORT_DATA_DIR=" + filepath.Join(notADir, "data")), nil, "data dir"},
		{"port in use", good, []string{"--listen", busy.Addr().String()}, "address already in use"},
		{"a directory that is not a store", with("KEYPORT_DATA_DIR=" + filepath.Dir(notADir)), nil, "no Keyport store in " + filepath.Dir(notADir) + ", and it is not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keyport(t, tc.env, append([]string{"serve"}, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if r.code != 1 || !strings.Contains(last, tc.msg) || !strings.HasPrefix(last, "keyport: ") {
				t.Fatalf("exit %d, last line %q; want 1 and %q\n%s", r.code, last, tc.msg, r.stderr)
			}
		})
	}
}

// Requests beyond the per-key rate get Throttling.
func TestThrottling(t *testing.T) {
	s := startServer(t, "--rate-limit", "5")
	c := newV1(t, s, s.sk)
	throttled := 0
	for i := 0; i < 20; i++ {
		lk := kms.CreateListKeysRequest()
		c.prep(lk.RpcRequest)
		if _, err := c.c.ListKeys(lk); err != nil {
			serverError(t, err, 400, "Throttling")
			throttled++
		}
	}
	if throttled < 10 {
		t.Fatalf("%d of 20 back-to-back requests throttled at 5/s", throttled)
	}
	time.Sleep(time.Second)
	lk := kms.CreateListKeysRequest()
	c.prep(lk.RpcRequest)
	if _, err := c.c.ListKeys(lk); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	// The same access key's budget through Tencent's API.
	tc := newTencent(t, s, s.sk)
	limited := 0
	for i := 0; i < 20; i++ {
		if _, err := tc.ListKeys(tckms.NewListKeysRequest()); err != nil {
			tcError(t, err, "RequestLimitExceeded")
			limited++
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 Tencent requests limited at 5/s", limited)
	}
}

// `serve --dev` makes its token, data directory and access key on first run
// and reuses them on the next, printing a working credential each time.
func TestServeDev(t *testing.T) {
	softhsm.Require(t)
	dir := t.TempDir()
	run := func() string {
		t.Helper()
		s := &server{dir: dir, env: nil, tok: &softhsm.Token{}}
		out := &syncBuffer{}
		s.startIn(t, dir, out, "--dev")
		defer s.stop(t)
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), "AccessKeySecret:") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		text := out.String()
		ak := field(text, "AccessKeyId:")
		sk := field(text, "AccessKeySecret:")
		s.ak = ak
		c := newV1(t, s, sk)
		lk := kms.CreateListKeysRequest()
		c.prep(lk.RpcRequest)
		if _, err := c.c.ListKeys(lk); err != nil {
			t.Fatalf("the printed credential does not work: %v\n%s", err, text)
		}
		return ak
	}
	first := run()
	if second := run(); second != first {
		t.Fatalf("second run made a new access key: %s then %s", first, second)
	}
	if _, err := os.Stat(filepath.Join(dir, ".keyport-dev", "data", "keyport.db")); err != nil {
		t.Fatal(err)
	}
}

func field(text, label string) string {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), label); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// syncBuffer is a strings.Builder safe to read while a child writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// check-config runs serve's validation without opening the HSM or store.
func TestCheckConfig(t *testing.T) {
	module, err := softhsm.FindModule()
	if err != nil {
		softhsm.Require(t)
		t.Fatal(err)
	}
	base := []string{"KEYPORT_PKCS11_MODULE=" + module, "KEYPORT_TOKEN_LABEL=any", "KEYPORT_PIN=1", "KEYPORT_DATA_DIR=" + t.TempDir()}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"good (the token is not even looked at)", base, nil, 0, "configuration OK"},
		{"no data dir", base[:3], nil, 2, "no data directory"},
		{"bad listen", base, []string{"--listen", "nope"}, 2, "missing port"},
		{"half TLS", base, []string{"--tls-cert", "c.pem"}, 2, "together"},
		{"missing TLS files", base, []string{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, 1, "TLS certificate"},
		{"two token selectors", append(base, "KEYPORT_TOKEN_SERIAL=1"), nil, 2, "one way only"},
		{"missing module", append([]string{"KEYPORT_PKCS11_MODULE=/nonexistent.so"}, base[1:]...), nil, 1, "not found"},
		{"log level, as the README lists it", base, []string{"--log-level", "debug"}, 0, "configuration OK"},
		{"bad log level", base, []string{"--log-level", "loud"}, 2, "--log-level"},
		{"negative failure limit", base, []string{"--auth-failure-limit", "-1"}, 2, "--auth-failure-limit"},
		{"plain HTTP off loopback", base, []string{"--listen", "0.0.0.0:8080"}, 1, "refusing plain HTTP on 0.0.0.0:8080, which is not loopback"},
		{"plain HTTP on every address", base, []string{"--listen", ":8080"}, 1, "refusing plain HTTP"},
		{"plain HTTP off loopback, said to be meant", base, []string{"--listen", "0.0.0.0:8080", "--insecure-http"}, 0, "configuration OK"},
		{"plain HTTP on localhost", base, []string{"--listen", "localhost:8080"}, 0, "configuration OK"},
		{"plain HTTP on ::1", base, []string{"--listen", "[::1]:8080"}, 0, "configuration OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keyport(t, tc.env, append([]string{"check-config"}, tc.args...)...).expect(t, tc.code, tc.msg)
		})
	}
}
