package hsm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/softhsm"
)

// Each way of getting the configuration wrong ends Open with one clear
// message and the matching sentinel, never a bare CKR code.
func TestOpenErrors(t *testing.T) {
	tok := softhsm.New(t)
	notLib := filepath.Join(t.TempDir(), "not-a-library.so")
	if err := os.WriteFile(notLib, []byte("not ELF"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*hsm.Config)
		kind   error
		msg    string
	}{
		{"wrong PIN", func(c *hsm.Config) { c.PIN = "wrong" }, hsm.ErrWrongPIN, `wrong PIN for token "` + tok.Label + `"`},
		{"unknown label", func(c *hsm.Config) { c.TokenLabel = "no-such-token" }, hsm.ErrTokenNotFound, `token "no-such-token" not found`},
		{"missing module", func(c *hsm.Config) { c.Module = "/nonexistent/libpkcs11.so" }, hsm.ErrModule, "PKCS#11 module /nonexistent/libpkcs11.so not found"},
		{"not a library", func(c *hsm.Config) { c.Module = notLib }, hsm.ErrModule, "is not a PKCS#11 library"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configFor(tok)
			tc.mutate(&cfg)
			h, err := hsm.Open(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %q, want %v containing %q", err, tc.kind, tc.msg)
			}
			if strings.Contains(err.Error(), "CKR_") {
				t.Fatalf("message shows a raw PKCS#11 code: %q", err)
			}
		})
	}
}
