package hsm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/hsm"
)

func TestValidate(t *testing.T) {
	module := filepath.Join(t.TempDir(), "lib.so")
	if err := os.WriteFile(module, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	slot := uint(3)
	for _, tc := range []struct {
		name string
		cfg  hsm.Config
		want string // substring of the error; "" = valid
	}{
		{"ok by label", hsm.Config{Module: module, TokenLabel: "kp", PIN: "1"}, ""},
		{"ok by slot", hsm.Config{Module: module, Slot: &slot, PIN: "1"}, ""},
		{"no module", hsm.Config{TokenLabel: "kp", PIN: "1"}, "no PKCS#11 module"},
		{"module missing", hsm.Config{Module: module + ".nope", TokenLabel: "kp", PIN: "1"}, "not found"},
		{"module is dir", hsm.Config{Module: t.TempDir(), TokenLabel: "kp", PIN: "1"}, "is a directory"},
		{"no token", hsm.Config{Module: module, PIN: "1"}, "no token selected"},
		{"two selectors", hsm.Config{Module: module, TokenLabel: "kp", TokenSerial: "s", PIN: "1"}, "one way only"},
		{"three selectors", hsm.Config{Module: module, TokenLabel: "kp", TokenSerial: "s", Slot: &slot, PIN: "1"}, "token label, token serial, slot"},
		{"no pin", hsm.Config{Module: module, TokenLabel: "kp"}, "no user PIN"},
		{"one session", hsm.Config{Module: module, TokenLabel: "kp", PIN: "1", MaxSessions: 1}, "at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := (&hsm.Config{Module: module + ".nope", TokenLabel: "kp", PIN: "1"}).Validate(); !errors.Is(err, hsm.ErrModule) {
		t.Fatalf("missing module: %v is not ErrModule", err)
	}
}

func TestParseURI(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		uri                        string
		label, serial, module, pin string
		slot                       int // -1 = none
		wantErr                    string
	}{
		{uri: "pkcs11:token=kp", label: "kp", slot: -1},
		{uri: "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project?module-path=/usr/lib/x.so&pin-value=1234",
			label: "My Token", module: "/usr/lib/x.so", pin: "1234", slot: -1},
		{uri: "pkcs11:serial=abc;slot-id=7?pin-source=file:" + pinFile, serial: "abc", slot: 7, pin: "s3cret"},
		{uri: "pkcs11:object=foo;type=private", slot: -1},
		{uri: "token=kp", wantErr: "must start with"},
		{uri: "pkcs11:slot-id=x", wantErr: "not a number"},
		{uri: "pkcs11:token", wantErr: "not name=value"},
		{uri: "pkcs11:token=%zz", wantErr: "not percent-encoded"},
		{uri: "pkcs11:token=kp?pin-value=1&pin-source=file:" + pinFile, wantErr: "not both"},
		{uri: "pkcs11:token=kp?pin-source=|cmd", wantErr: "only file:"},
		{uri: "pkcs11:token=kp?pin-source=file:/nonexistent/pin", wantErr: "pin-source file: no such file"},
		// A PIN put where another value belongs is not echoed.
		{uri: "pkcs11:slot-id=Secret-PIN-1", wantErr: "not a number"},
		{uri: "pkcs11:token=kp?pin-source=Secret-PIN-1", wantErr: "only file:"},
		{uri: "pkcs11:Secret-PIN-1", wantErr: "not name=value"},
		{uri: "pkcs11:token=Secret-PIN-1%zz", wantErr: "not percent-encoded"},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			cfg, err := hsm.ParseURI(tc.uri)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "Secret-PIN") || strings.Contains(err.Error(), "/nonexistent") {
					t.Fatalf("the error repeats a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.TokenLabel != tc.label || cfg.TokenSerial != tc.serial || cfg.Module != tc.module || cfg.PIN != tc.pin {
				t.Fatalf("got %+v", cfg)
			}
			if (tc.slot < 0) != (cfg.Slot == nil) || (cfg.Slot != nil && int(*cfg.Slot) != tc.slot) {
				t.Fatalf("slot: got %v, want %d", cfg.Slot, tc.slot)
			}
		})
	}
}

func TestURIHasPINValue(t *testing.T) {
	for uri, want := range map[string]bool{
		"pkcs11:token=kp?pin-value=1":                 true,
		"pkcs11:token=kp?module-path=/x&pin-value=1":  true,
		"pkcs11:token=kp?pin-source=file:/run/pin":    false,
		"pkcs11:token=pin-value=1":                    false, // a label, in the path
		"pkcs11:token=kp?module-path=/pin-value=x.so": false,
	} {
		if got := hsm.URIHasPINValue(uri); got != want {
			t.Errorf("%s: %v, want %v", uri, got, want)
		}
	}
}

func TestReadPINFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := hsm.ReadPINFile(empty); err == nil {
		t.Fatal("an empty PIN file must be an error, not an empty PIN")
	}
	if _, err := hsm.ReadPINFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing PIN file must be an error")
	}
	crlf := filepath.Join(dir, "crlf")
	_ = os.WriteFile(crlf, []byte("1234\r\n"), 0o600)
	if pin, err := hsm.ReadPINFile(crlf); err != nil || pin != "1234" {
		t.Fatalf("got %q, %v", pin, err)
	}
}
