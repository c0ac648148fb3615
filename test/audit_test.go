package test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/client/byok"
)

type auditLine struct {
	Time        time.Time `json:"time"`
	RequestID   string    `json:"request_id"`
	Dialect     string    `json:"dialect"`
	Action      string    `json:"action"`
	AccessKeyID string    `json:"access_key_id"`
	KeyID       string    `json:"key_id"`
	SourceIP    string    `json:"source_ip"`
	Result      string    `json:"result"`
	DurationMs  *float64  `json:"duration_ms"`
	Keys        []struct {
		KeyID   string `json:"key_id"`
		Version string `json:"version"`
		Alias   string `json:"alias"`
	} `json:"keys"`
}

func readAudit(t *testing.T, path string) ([]auditLine, string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []auditLine
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line is not JSON: %q", sc.Text())
		}
		if l.Action != "AuditCheckpoint" { // the chain's own lines (TestAuditChain)
			lines = append(lines, l)
		}
	}
	return lines, string(raw)
}

// TestAuditChain: the audit log of the built binary, rotated by SIGHUP and
// then stopped, verifies with `keyport audit verify` (the token checks the
// checkpoints' MACs; no store is read), also live while the server runs;
// an edited line and a cut tail are reported at their lines, exit 1.
func TestAuditChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	s := startServer(t, "--audit-log", path)
	ctx := context.Background()
	cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	id := must(cl.CreateKey(ctx, false, true))
	for i := 0; i < 20; i++ {
		_ = must(cl.Encrypt(ctx, id, []byte("chained")))
	}
	tokenEnv := []string{"KEYPORT_PKCS11_MODULE=" + s.tok.Module, "KEYPORT_TOKEN_LABEL=" + s.tok.Label, "KEYPORT_PIN=" + s.tok.PIN}
	keyport(t, tokenEnv, "audit", "verify", "--live", path).expect(t, 0, "checkpoints verified")
	must(0, os.Rename(path, path+".1"))
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 20; i++ {
		_ = must(cl.Encrypt(ctx, id, []byte("chained")))
	}
	s.stop(t)
	files := []string{path + ".1", path}
	r := keyport(t, tokenEnv, append([]string{"audit", "verify", "--json"}, files...)...)
	var rep struct {
		Lines, Checkpoints int
		Findings           []struct{ Tampered bool }
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Lines < 44 || rep.Checkpoints < 3 || len(rep.Findings) != 0 {
		t.Fatalf("a clean log: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// One field edited in the first file; then the second file's tail cut.
	old := strings.Split(string(must(os.ReadFile(files[0]))), "\n")
	for i, l := range old {
		if strings.Contains(l, `"action":"Encrypt"`) && i > 3 {
			old[i] = strings.Replace(l, `"result":"OK"`, `"result":"Rejected.Disabled"`, 1)
			must(0, os.WriteFile(files[0], []byte(strings.Join(old, "\n")), 0o600))
			keyport(t, tokenEnv, append([]string{"audit", "verify"}, files...)...).expect(t, 1, fmt.Sprintf("TAMPERED %s:%d: line %d does not follow line %d: line %d was changed", files[0], i+2, i+2, i+1, i+1))
			old[i] = l
			must(0, os.WriteFile(files[0], []byte(strings.Join(old, "\n")), 0o600))
			break
		}
	}
	cur := strings.Split(strings.TrimSuffix(string(must(os.ReadFile(files[1]))), "\n"), "\n")
	must(0, os.WriteFile(files[1], []byte(strings.Join(cur[:len(cur)-3], "\n")+"\n"), 0o600))
	keyport(t, tokenEnv, append([]string{"audit", "verify"}, files...)...).expect(t, 1, "does not end with a closing checkpoint")
}

// Every API request and admin action leaves one JSON line with who, what,
// which key, from where and how it ended, and nothing secret.
func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	s := startServer(t, "--audit-log", path)
	ctx := context.Background()
	cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	tc := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Tencent, AccessKeyID: s.ak, Secret: s.sk}))

	material := make([]byte, 32)
	_, _ = rand.Read(material)
	id := must(cl.CreateKey(ctx, true, true))
	p := must(cl.GetParametersForImport(ctx, id, "RSA_2048", "RSAES_OAEP_SHA_256"))
	wrapped := must(byok.Wrap(p.PublicKey, "RSAES_OAEP_SHA_256", material))
	if err := cl.ImportKeyMaterial(ctx, id, p.ImportToken, wrapped, time.Time{}); err != nil {
		t.Fatal(err)
	}
	plaintext := []byte("audit-plaintext-7f3a9c")
	blob := must(cl.Encrypt(ctx, id, plaintext))
	_ = must(tc.Decrypt(ctx, blob))
	if _, err := cl.KeyState(ctx, "00000000-0000-0000-0000-000000000000"); err == nil {
		t.Fatal("DescribeKey of an unknown key worked")
	}
	env := append(s.env, "KEYPORT_AUDIT_LOG="+path)
	newID, newSecret := newAccessKey(t, env)
	keyport(t, env, "access-key", "disable", "--id", newID).expect(t, 0, "")
	keyport(t, env, "access-key", "delete", "--id", newID).expect(t, 0, "")
	s.stop(t)
	keyport(t, env, "hsm", "purge", "--expired").expect(t, 0, "")

	lines, raw := readAudit(t, path)
	var got []string
	for _, l := range lines {
		got = append(got, l.Dialect+" "+l.Action+" "+l.Result)
		if l.Time.IsZero() || l.DurationMs == nil || l.SourceIP == "" {
			t.Fatalf("incomplete line: %+v", l)
		}
		if l.Dialect != "admin" && (l.RequestID == "" || l.AccessKeyID != s.ak || l.SourceIP != "127.0.0.1") {
			t.Fatalf("API line: %+v", l)
		}
	}
	want := []string{"admin AccessKeyCreate OK", "aliyun CreateKey OK", "aliyun GetParametersForImport OK", "aliyun ImportKeyMaterial OK", "aliyun Encrypt OK",
		"tencent Decrypt OK", "aliyun DescribeKey Forbidden.KeyNotFound",
		"admin AccessKeyCreate OK", "admin AccessKeyDisable OK", "admin AccessKeyDelete OK", "admin HsmPurgeExpired OK"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if lines[0].AccessKeyID != s.ak || lines[0].SourceIP != "admin-socket" || lines[1].KeyID != id || lines[2].KeyID != id || lines[3].KeyID != id ||
		lines[4].KeyID != id || lines[5].KeyID != id || lines[7].AccessKeyID != newID || !strings.HasPrefix(lines[10].SourceIP, "local:uid=") {
		t.Fatalf("key ids: %+v", lines)
	}
	for name, secret := range map[string]string{
		"the access key secret": s.sk, "a new access key's secret": newSecret, "the PIN": s.tok.PIN,
		"the plaintext": string(plaintext), "the plaintext in base64": base64.StdEncoding.EncodeToString(plaintext),
		"the material in hex": hex.EncodeToString(material), "the material in base64": base64.StdEncoding.EncodeToString(material),
		"the wrapped material": base64.StdEncoding.EncodeToString(wrapped), "the import token": p.ImportToken, "the ciphertext": blob,
	} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the audit log holds %s", name)
		}
	}
}

// An audit log that cannot be written refuses requests with the dialect's
// 503-class error instead of serving them unrecorded, changes nothing
// after the first failure, and recovers when SIGHUP reopens a writable file.
func TestAuditLogFailsClosed(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "audit.log")
	repoint := func(target string) { // as logrotate moves files, then SIGHUP
		t.Helper()
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	repoint(filepath.Join(dir, "audit-1.log"))
	s := startServer(t, "--audit-log", link)
	repoint("/dev/full") // the disk is full from here on
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	ctx := context.Background()
	cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	tc := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Tencent, AccessKeyID: s.ak, Secret: s.sk}))
	for i := 0; i < 5; i++ {
		var ae *client.APIError
		if _, err := cl.CreateKey(ctx, false, false); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "ServiceUnavailableTemporary" {
			t.Fatalf("CreateKey with the disk full: %v", err)
		}
	}
	var ae *client.APIError
	if _, err := tc.CreateKey(ctx, false, false); !errors.As(err, &ae) || ae.Code != "UnsupportedOperation.ServiceTemporaryUnavailable" {
		t.Fatalf("Tencent CreateKey with the disk full: %v", err)
	}
	r := keyport(t, s.env, "access-key", "create") // through the admin socket: refused too
	r.expect(t, 1, "temporarily unavailable")
	if status := readyzWithin(s.addr, 503, 2*time.Second); status != 503 {
		t.Fatalf("/readyz with the audit log unwritable: %d", status)
	}
	// Repoint the log at a real file and reopen.
	real := filepath.Join(dir, "audit-2.log")
	repoint(real)
	_ = s.cmd.Process.Signal(syscall.SIGHUP)
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err = cl.CreateKey(ctx, false, false); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("after SIGHUP onto a writable file: %v", err)
	}
	if status := readyzWithin(s.addr, 200, 2*time.Second); status != 200 {
		t.Fatalf("/readyz with the audit log writable again: %d", status)
	}
	var listed struct{ TotalCount int }
	if err := cl.Call(ctx, "ListKeys", map[string]any{"PageSize": "100"}, &listed); err != nil {
		t.Fatal(err)
	}
	if listed.TotalCount > 2 { // the first refused CreateKey ran before its line failed; none after it
		t.Fatalf("%d keys exist after 6 refused creates and 1 accepted", listed.TotalCount)
	}
	lines, _ := readAudit(t, real)
	if len(lines) == 0 || lines[len(lines)-1].Action != "ListKeys" {
		t.Fatalf("the reopened log: %+v", lines)
	}
	keyport(t, s.env, "check-config", "--audit-log", "/nonexistent/dir/audit.log").expect(t, 1, "no directory /nonexistent/dir")
	// The file made read-only (immutable) under the running server: refused
	// again; writable again: served again, without a SIGHUP, the gap
	// recorded.
	chattr := func(flag string) {
		t.Helper()
		if out, err := exec.Command("chattr", flag, real).CombinedOutput(); err != nil {
			t.Fatalf("chattr %s: %v %s", flag, err, out)
		}
	}
	chattr("+i")
	t.Cleanup(func() { _ = exec.Command("chattr", "-i", real).Run() })
	if _, err := cl.CreateKey(ctx, false, false); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("CreateKey with the log read-only: %v", err)
	}
	if _, err := cl.CreateKey(ctx, false, false); !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("CreateKey with the log read-only: %v", err)
	}
	chattr("-i")
	if _, err := cl.CreateKey(ctx, false, false); err != nil {
		t.Fatalf("CreateKey with the log writable again: %v", err)
	}
	lines, _ = readAudit(t, real)
	if n := len(lines); n < 2 || lines[n-2].Action != "AuditLogWritableAgain" || lines[n-1].Action != "CreateKey" {
		t.Fatalf("after the log became writable again: %+v", lines[max(0, n-3):])
	}
	s.stop(t) // the CLI on the store itself, with a log it cannot open
	keyport(t, append(s.env, "KEYPORT_AUDIT_LOG=/nonexistent/dir/audit.log"), "access-key", "create").expect(t, 1, "audit log cannot be written")
}

// TestStoreVerify: `keyport store verify` on a stopped store finds every
// record whole and every object a record names on the token, exit 0, and
// changes nothing; an HSM key's object destroyed behind Keyport's back is
// reported, exit 1.
func TestStoreVerify(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	soft := must(cl.CreateKey(ctx, false, false))
	hsmKey := must(cl.CreateKey(ctx, false, true))
	_ = must(cl.Encrypt(ctx, soft, []byte("x")))
	s.stop(t)
	r := keyport(t, s.env, "store", "verify", "--json")
	var rep struct {
		Keys, AccessKeys, Objects int
		Problems                  []string
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Keys != 2 || rep.AccessKeys != 1 || len(rep.Problems) != 0 {
		t.Fatalf("a sound store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The HSM key's object, destroyed with pkcs11-tool.
	var objs []struct{ ID, Label string }
	must(0, json.Unmarshal([]byte(keyport(t, s.env, "hsm", "objects", "--json").stdout), &objs))
	for _, o := range objs {
		if strings.Contains(o.Label, "/material/"+hsmKey) {
			out, err := exec.Command("pkcs11-tool", "--module", s.tok.Module, "--token-label", s.tok.Label, "--login", "--pin", s.tok.PIN,
				"--delete-object", "--type", "secrkey", "--id", o.ID).CombinedOutput()
			if err != nil {
				t.Fatalf("pkcs11-tool: %v\n%s", err, out)
			}
		}
	}
	keyport(t, s.env, "store", "verify").expect(t, 1, "names token object")
}
