package test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/softhsm"
)

// A database password never goes on the command line (ps and shell
// history show flags), a config file holding one must be the owner's
// alone, a store reached over the network without verifying the server is
// warned about, and the clients refuse plain HTTP beyond loopback, where
// anyone on the path could swap the wrapping public key.
func TestSecretsAndChannels(t *testing.T) {
	module, err := softhsm.FindModule()
	if err != nil {
		softhsm.Require(t)
		t.Fatal(err)
	}
	const password = "hunter2-secret"
	withPassword := "postgres://kp:" + password + "@127.0.0.1:5432/kp?sslmode=disable"
	base := []string{"KEYPORT_PIN=1", "KEYPORT_PKCS11_MODULE=" + module, "KEYPORT_TOKEN_LABEL=any"}
	config := func(mode os.FileMode, text string) string { return fileWithMode(t, "keyport.yaml", text, mode) }
	for _, tc := range []struct {
		name   string
		env    []string
		args   []string
		code   int
		msg    string
		warned bool
	}{
		{"password in --store", nil, []string{"check-config", "--store", withPassword}, 2, "--store holds a database password", false},
		{"password in a parameter", nil, []string{"check-config", "--store", "postgres://kp@127.0.0.1/kp?password=" + password}, 2, "holds a database password", false},
		{"password in KEYPORT_STORE", []string{"KEYPORT_STORE=" + withPassword}, []string{"check-config"}, 0, "configuration OK", false},
		{"password in a private config file", nil, []string{"check-config", "--config", config(0o600, "store: "+withPassword+"\n")}, 0, "configuration OK", false},
		{"password in a config file others may read", nil, []string{"check-config", "--config", config(0o644, "store: "+withPassword+"\n")}, 1, "chmod 600", false},
		{"no password, config file others may read", nil, []string{"check-config", "--config", config(0o644, "store: postgres://kp@127.0.0.1/kp\n")}, 0, "configuration OK", false},
		{"password in store migrate --to", nil, []string{"store", "migrate", "--from", t.TempDir(), "--to", withPassword}, 2, "--to holds a database password", false},
		{"remote database, TLS not verified", nil, []string{"check-config", "--store", "postgres://kp@192.0.2.10/kp?sslmode=require"}, 0, "configuration OK", true},
		{"remote database, PGSSLMODE not verifying", []string{"PGSSLMODE=prefer"}, []string{"check-config", "--store", "postgres://kp@db.example:5432/kp"}, 0, "configuration OK", true},
		{"remote database, verify-full", nil, []string{"check-config", "--store", "postgres://kp@192.0.2.10/kp?sslmode=verify-full"}, 0, "configuration OK", false},
		{"local socket", nil, []string{"check-config", "--store", "postgres://kp@/kp?host=/run/postgresql&sslmode=disable"}, 0, "configuration OK", false},
		{"loopback over TCP", nil, []string{"check-config", "--store", "postgres://kp@127.0.0.1:5432/kp?sslmode=disable"}, 0, "configuration OK", false},
		{"bench over plain HTTP to another host", nil, []string{"bench", "--endpoint", "http://192.0.2.10:8080", "--requests", "1"}, 2, "refusing plain HTTP to 192.0.2.10:8080", false},
		{"import over plain HTTP to another host", nil, []string{"import", "--endpoint", "http://kms.example", "--key-id", "k", "--material", "-"}, 2, "refusing plain HTTP to kms.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append(append(slices.Clone(base), "KEYPORT_DATA_DIR="+t.TempDir()), tc.env...)
			r := keyport(t, env, tc.args...)
			r.expect(t, tc.code, tc.msg)
			if strings.Contains(r.stdout+r.stderr, password) {
				t.Fatalf("the output shows the password:\n%s%s", r.stdout, r.stderr)
			}
			if warned := strings.Contains(r.stderr, "does not verify the server"); warned != tc.warned {
				t.Fatalf("warned %v, want %v:\n%s", warned, tc.warned, r.stderr)
			}
		})
	}
}

// Admin commands read serve's config file: the same token, store and audit
// log, so that an access-key change made with the server stopped is in the
// log the server writes (and one made through its socket is recorded by it).
func TestAdminCommandsReadTheConfig(t *testing.T) {
	tok := softhsm.New(t)
	dir := filepath.Join(t.TempDir(), "data")
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	conf := writeFile(t, "keyport.yaml", "module: "+tok.Module+"\ntoken-label: "+tok.Label+"\npin-file: "+writeFile(t, "pin", tok.PIN)+
		"\ndata-dir: "+dir+"\naudit-log: "+auditLog+"\npool-rsa: 1\nlisten: 127.0.0.1:0\nrate-limit: 50\n")
	env := []string{"KEYPORT_CONFIG=" + conf}
	s := &server{tok: tok, dir: dir, env: env}
	s.start(t)
	ak, _ := newAccessKey(t, env) // through the server's socket
	s.stop(t)
	keyport(t, env, "access-key", "disable", "--id", ak).expect(t, 0, "") // on the store itself
	keyport(t, env, "access-key", "list").expect(t, 0, ak)
	lines, _ := readAudit(t, auditLog)
	var got []string
	for _, l := range lines {
		if l.Dialect == "admin" {
			got = append(got, l.Action+" "+l.AccessKeyID+" "+l.Result)
		}
	}
	if want := "AccessKeyCreate " + ak + " OK\nAccessKeyDisable " + ak + " OK"; strings.Join(got, "\n") != want {
		t.Fatalf("admin lines in the audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	// A key of the file that the command lacks is skipped; one that serve
	// lacks too is still an error.
	bad := writeFile(t, "bad.yaml", "module: "+tok.Module+"\nlistne: x\n")
	keyport(t, []string{"KEYPORT_CONFIG=" + bad}, "access-key", "list").expect(t, 1, `unknown key "listne"`)
}
