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
	rules := []struct {
		pkg string
		// deps: never anywhere below pkg; imports: never imported by pkg itself.
		deps, imports []string
	}{
		{pkg: mod + "hsm", deps: []string{mod + "service", mod + "cmd", "net/http"}},
		{pkg: mod + "service", deps: []string{mod + "cmd", "net/http", mod + "service/aliyun", mod + "service/tencent"},
			imports: []string{"github.com/miekg/pkcs11", "github.com/ThalesGroup/crypto11"}},
		{pkg: mod + "service/store", deps: []string{mod + "hsm", "net/http"}, imports: []string{mod + "service"}},
		{pkg: mod + "softhsm", deps: []string{mod + "hsm", mod + "service"}},
		// The client (keyport bench, keyport import) and the pieces it shares
		// with the server link no token library, no database driver and no
		// server package: signatures and ids are pure packages of their own.
		{pkg: mod + "client", deps: []string{mod + "hsm", mod + "service", "github.com/miekg/pkcs11", "github.com/jackc/pgx", "go.etcd.io/bbolt"}},
		{pkg: mod + "sign", deps: []string{mod + "hsm", mod + "service", "github.com/miekg/pkcs11", "github.com/jackc/pgx", "go.etcd.io/bbolt"}},
		// What every dialect shares, and the audit log, know no store, token or server.
		{pkg: mod + "service/wire", deps: []string{mod + "hsm", mod + "service/store", "github.com/miekg/pkcs11", "github.com/jackc/pgx", "go.etcd.io/bbolt"}},
		{pkg: mod + "audit", deps: []string{mod + "hsm", mod + "service/store", "github.com/miekg/pkcs11", "github.com/jackc/pgx", "go.etcd.io/bbolt"}},
		{pkg: mod + "ids", deps: []string{strings.TrimSuffix(mod, "/")}},
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
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s depends on %s", r.pkg, d)
				}
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
