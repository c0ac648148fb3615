package test

import (
	"os/exec"
	"strings"
	"testing"
)

// Imports flow one way: cmd/keyport → service dialects → service → hsm →
// PKCS#11. The service speaks no HTTP and calls no PKCS#11 library itself;
// the dialects never reach the HSM; hsm knows nothing above it.
func TestLayering(t *testing.T) {
	const mod = "github.com/keyport-kms/keyport/"
	// Token libraries and database drivers: only hsm, the store backends
	// and the binary that wires them link these.
	drivers := []string{"github.com/miekg/pkcs11", "github.com/ThalesGroup/crypto11", "github.com/jackc/pgx", "go.etcd.io/bbolt"}
	// A leaf knows no token, no driver and no server package; it may use
	// service/wire, what the dialects share ("$" matches that path alone).
	server := []string{mod + "hsm", mod + "service$", mod + "service/aliyun", mod + "service/tencent", mod + "service/server", mod + "cmd"}
	leaf := func(more ...string) []string {
		return append(append(append([]string{}, server...), drivers...), more...)
	}
	rules := []struct {
		pkg string
		// deps: never anywhere below pkg; imports: never imported by pkg itself.
		deps, imports []string
		// pure: no package below pkg outside the standard library uses cgo.
		pure bool
	}{
		{pkg: mod + "hsm", deps: []string{mod + "service", mod + "store", mod + "cmd", "net/http"}},
		{pkg: mod + "service", deps: []string{mod + "cmd", "net/http", mod + "service/aliyun", mod + "service/tencent",
			mod + "store/bolt", mod + "store/postgres", "github.com/jackc/pgx", "go.etcd.io/bbolt"},
			imports: []string{"github.com/miekg/pkcs11", "github.com/ThalesGroup/crypto11"}},
		// The store is a contract with no database, and backends that know
		// nothing above them.
		{pkg: mod + "store", deps: leaf("net/http"), pure: true},
		{pkg: mod + "store/bolt", deps: []string{mod + "hsm", mod + "service", mod + "store/postgres", "github.com/jackc/pgx", "net/http"}, pure: true},
		{pkg: mod + "store/postgres", deps: []string{mod + "hsm", mod + "service", mod + "store/bolt", "go.etcd.io/bbolt", "net/http"}, pure: true},
		{pkg: mod + "store/storetest", deps: []string{mod + "hsm", mod + "service", "github.com/jackc/pgx", "go.etcd.io/bbolt"}, pure: true},
		{pkg: mod + "softhsm", deps: []string{mod + "hsm", mod + "service"}},
		// The client (keyport bench, keyport import) and the pieces it shares
		// with the server link no token library, no database driver and no
		// server package: signatures and ids are pure packages of their own.
		{pkg: mod + "client", deps: leaf(mod + "store"), pure: true},
		{pkg: mod + "sign", deps: leaf(mod + "store"), pure: true},
		// What every dialect shares, the audit log and the metrics know no
		// store, token or server.
		{pkg: mod + "service/wire", deps: leaf(mod + "store"), pure: true},
		{pkg: mod + "audit", deps: leaf(mod + "store"), pure: true},
		{pkg: mod + "metrics", deps: leaf(mod + "store"), pure: true},
		// The policy engine decides from what it is handed: no store, no server.
		{pkg: mod + "policy", deps: leaf(mod+"store", mod+"service/wire", "net/http"), pure: true},
		{pkg: mod + "ids", deps: []string{strings.TrimSuffix(mod, "/")}, pure: true},
		// In-process asymmetric keys serve hsm and service alike: they
		// know neither, nor any store or server.
		{pkg: mod + "asymkey", deps: leaf(mod+"store", mod+"service/wire", "net/http"), pure: true},
		{pkg: mod + "keywrap", deps: []string{strings.TrimSuffix(mod, "/")}, pure: true},
	}
	list := func(format, pkg string) map[string]bool {
		out, err := exec.Command("go", "list", "-f", format, pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		set := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			set[d] = true
		}
		return set
	}
	for _, r := range rules {
		deps := list(`{{join .Deps " "}}`, r.pkg)
		for _, f := range r.deps {
			for d := range deps {
				if exact, ok := strings.CutSuffix(f, "$"); ok && d == exact || !ok && (d == f || strings.HasPrefix(d, f+"/")) {
					t.Errorf("%s depends on %s", r.pkg, d)
				}
			}
		}
		if r.pure {
			out, err := exec.Command("go", "list", "-deps", "-f", `{{if and .CgoFiles (not .Standard)}}{{.ImportPath}}{{end}}`, r.pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", r.pkg, err)
			}
			for _, c := range strings.Fields(string(out)) {
				t.Errorf("%s links %s, which uses cgo", r.pkg, c)
			}
		}
		imports := list(`{{join .Imports " "}}`, r.pkg)
		for _, f := range r.imports {
			if imports[f] {
				t.Errorf("%s imports %s", r.pkg, f)
			}
		}
	}
}
