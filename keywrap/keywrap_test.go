package keywrap_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"os/exec"
	"testing"

	"github.com/keyport-kms/keyport/keywrap"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 5649 §6's two examples, both ways.
func TestRFC5649Vectors(t *testing.T) {
	kek := unhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
	for _, v := range []struct{ key, wrapped string }{
		{"c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
	} {
		got, err := keywrap.Wrap(kek, unhex(v.key))
		if err != nil || hex.EncodeToString(got) != v.wrapped {
			t.Errorf("Wrap(%s) = %x, %v; want %s", v.key, got, err, v.wrapped)
		}
		back, err := keywrap.Unwrap(kek, unhex(v.wrapped))
		if err != nil || hex.EncodeToString(back) != v.key {
			t.Errorf("Unwrap(%s) = %x, %v", v.wrapped, back, err)
		}
	}
}

// Every length from 1 to 70 bytes round-trips, openssl's
// id-aes256-wrap-pad unwraps what Wrap makes, and any change to the
// wrapped bytes is ErrUnwrap.
func TestRoundTripAndOpenSSL(t *testing.T) {
	_, err := exec.LookPath("openssl")
	if err != nil && os.Getenv("CI") == "true" {
		t.Fatal("openssl is missing")
	}
	kek := bytes.Repeat([]byte{0x42}, 32)
	for n := 1; n <= 70; n++ {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		w, err := keywrap.Wrap(kek, msg)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := keywrap.Unwrap(kek, w); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: %x, %v", n, got, err)
		}
		for i := range w {
			bad := bytes.Clone(w)
			bad[i] ^= 0x80
			if _, err := keywrap.Unwrap(kek, bad); err != keywrap.ErrUnwrap {
				t.Fatalf("%d bytes, byte %d changed: %v", n, i, err)
			}
		}
		if err == nil && (n == 1 || n == 32 || n == 70) {
			cmd := exec.Command("openssl", "enc", "-d", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(kek), "-iv", "A65959A6")
			cmd.Stdin = bytes.NewReader(w)
			out, err := cmd.Output()
			if err != nil || !bytes.Equal(out, msg) {
				t.Errorf("%d bytes: openssl unwraps %x, %v", n, out, err)
			}
		}
	}
	if _, err := keywrap.Unwrap(kek, make([]byte, 12)); err != keywrap.ErrUnwrap {
		t.Errorf("12 bytes: %v", err)
	}
}

func FuzzUnwrap(f *testing.F) {
	kek := bytes.Repeat([]byte{1}, 16)
	f.Add(must(keywrap.Wrap(kek, []byte("seed material"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, err := keywrap.Unwrap(kek, b); err == nil {
			again, err := keywrap.Wrap(kek, got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("unwraps but does not wrap back: %v", err)
			}
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
