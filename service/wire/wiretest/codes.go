// Package wiretest helps the dialects' tests.
package wiretest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// literalCode finds the code of an apiError literal: apiError{"Code", …},
// apiError{http.StatusX, "Code", …} or apiError{Status: n, Code: "Code", …}.
var literalCode = regexp.MustCompile(`apiError\{[^"{}]*?"([A-Za-z][A-Za-z.]*)"`)

// LiteralCodes lists the error codes written as apiError literals in the
// package's non-test files in dir, so that a test can check that the
// dialect's closed set of codes holds every one.
func LiteralCodes(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range literalCode.FindAllSubmatch(src, -1) {
			codes = append(codes, string(m[1]))
		}
	}
	if len(codes) == 0 {
		t.Fatalf("no apiError literals found in %s", dir)
	}
	return codes
}

// CodesClosed checks that every code the dialect in dir can answer is in
// its closed set (known), so that metrics never label by a code outside
// it, and that the set is not everything.
func CodesClosed(t *testing.T, dir string, known func(string) bool) {
	t.Helper()
	for _, c := range LiteralCodes(t, dir) {
		if !known(c) {
			t.Errorf("code %s is answered but not in protocolCodes", c)
		}
	}
	if known("Made.Up") {
		t.Fatal("an unknown code is known")
	}
}
