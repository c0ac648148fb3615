package test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/softhsm"
)

// p11kitClient finds p11-kit's client module and the p11-kit command: a
// network HSM for the tests (p11-kit remoting exports a SoftHSM2 token
// over a Unix socket). Under CI=true a missing one fails the test.
func p11kitClient(t *testing.T) (module, command string) {
	t.Helper()
	mods, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-client.so")
	cmd, err := exec.LookPath("p11-kit")
	if len(mods) == 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and p11-kit remoting is not installed (apt-get install p11-kit p11-kit-modules; make deps does)")
		}
		t.Skip("p11-kit remoting not installed")
	}
	return mods[0], cmd
}

// remoteHSM is a `p11-kit server` exporting one SoftHSM2 token.
type remoteHSM struct {
	cmd      *exec.Cmd
	command  string
	sock     string
	provider string
	label    string
}

func (r *remoteHSM) start(t *testing.T) {
	t.Helper()
	_ = os.Remove(r.sock)
	r.cmd = exec.Command(r.command, "server", "-f", "-n", r.sock, "--provider", r.provider, "pkcs11:token="+r.label)
	r.cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+os.Getenv("SOFTHSM2_CONF"))
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(r.sock); err == nil {
			return
		}
	}
	t.Fatal("p11-kit server did not listen")
}

// kill takes the HSM away as a crashed appliance would: the server and the
// p11-kit-remote child serving each client connection, by SIGKILL.
func (r *remoteHSM) kill() {
	if r.cmd == nil {
		return
	}
	pid := r.cmd.Process.Pid
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces: read after the last ')'.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(strings.SplitN(string(b), " ", 2)[0])
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func readyz(addr string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body["reason"]
}

// readyzWithin polls /readyz until it answers want or d has passed, and
// returns the last status.
func readyzWithin(addr string, want int, d time.Duration) int {
	status := 0
	for deadline := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if status, _ = readyz(addr); status == want || time.Now().After(deadline) {
			return status
		}
	}
}

// A network HSM (p11-kit remoting) killed while 64 clients import and
// decrypt, then restarted: while it is gone every call fails fast with the
// 503-class error and /readyz says why; once it is back everything works
// again without a restart, no request ever got another error, and every
// import that was acknowledged still decrypts.
func TestNetworkHSMGoneAndBack(t *testing.T) {
	defer catch(t)
	module, command := p11kitClient(t)
	tok := softhsm.New(t)
	remote := &remoteHSM{command: command, sock: filepath.Join(t.TempDir(), "hsm.sock"), provider: tok.Module, label: tok.Label}
	remote.start(t)
	defer remote.kill()
	s := &server{tok: tok, dir: filepath.Join(t.TempDir(), "data")}
	s.env = []string{"KEYPORT_PKCS11_MODULE=" + module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN,
		"KEYPORT_DATA_DIR=" + s.dir, "P11_KIT_SERVER_ADDRESS=unix:path=" + remote.sock}
	// What an operator checks first on a network HSM: p11-kit 0.24 does not
	// carry the ECDH derive parameters, so SM2PKE is disabled there.
	selfTest(t, s.env, map[string]bool{"decrypt and import SM2PKE": true})
	s.start(t, "--rate-limit", "0", "--auth-failure-limit", "0")
	r := keyport(t, s.env, "access-key", "create", "--json")
	var ak struct{ AccessKeyId, AccessKeySecret string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ak) != nil {
		t.Fatalf("access-key create: %s%s", r.stdout, r.stderr)
	}
	c := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: ak.AccessKeyId, Secret: ak.AccessKeySecret}))
	ctx := context.Background()
	hsmKey := must(c.CreateKey(ctx, false, true))
	blob := must(c.Encrypt(ctx, hsmKey, []byte("before")))

	type imported struct {
		keyID    string
		material []byte
	}
	var mu sync.Mutex
	var acked []imported
	codes := map[string]int{}
	var answered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if w%8 == 0 { // some clients import, the others decrypt
					m := make([]byte, 32)
					_, _ = rand.Read(m)
					var id string
					if id, err = c.CreateKey(ctx, true, true); err == nil {
						if err = c.Import(ctx, id, "RSA_2048", "RSAES_OAEP_SHA_1", m, time.Time{}); err == nil {
							mu.Lock()
							acked = append(acked, imported{id, m})
							mu.Unlock()
						}
					}
				} else {
					_, err = c.Decrypt(ctx, blob)
				}
				answered.Add(1)
				if err != nil {
					var ae *client.APIError
					code := err.Error()
					if errors.As(err, &ae) {
						code = ae.Code
					}
					mu.Lock()
					codes[code]++
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	remote.kill()
	time.Sleep(300 * time.Millisecond)
	before := answered.Load()
	status, reason := readyz(s.addr)
	time.Sleep(1 * time.Second)
	whileGone := answered.Load() - before
	if status != 503 || reason == "" {
		t.Fatalf("/readyz while the HSM is gone: %d %q", status, reason)
	}
	if whileGone < 64 {
		t.Fatalf("only %d answers in a second while the HSM was gone: calls hang instead of failing fast", whileGone)
	}
	remote.start(t)
	back := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if status, _ := readyz(s.addr); status == 200 {
			back = true
			break
		}
	}
	if !back {
		t.Fatalf("not ready 30 s after the HSM came back: %v", func() string { _, r := readyz(s.addr); return r }())
	}
	time.Sleep(2 * time.Second) // load on the recovered HSM
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d answers, %d while the HSM was gone for a second; errors by code %v; %d imports acknowledged", answered.Load(), whileGone, codes, len(acked))
	for code := range codes {
		if code != "ServiceUnavailableTemporary" {
			t.Errorf("a request got %q: only the 503-class error is allowed while the HSM is away", code)
		}
	}
	if codes["ServiceUnavailableTemporary"] == 0 || len(acked) == 0 {
		t.Fatalf("the test did not exercise both sides: %v, %d imports", codes, len(acked))
	}
	for _, im := range acked {
		b := must(c.Encrypt(ctx, im.keyID, []byte("after")))
		if pt := must(c.Decrypt(ctx, b)); string(pt) != "after" {
			t.Fatalf("key %s after recovery: %q", im.keyID, pt)
		}
	}
	if pt := must(c.Decrypt(ctx, blob)); string(pt) != "before" {
		t.Fatalf("the blob made before: %q", pt)
	}
}
