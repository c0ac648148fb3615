package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The admin socket sits in a 0700 directory made before it exists, and a
// connection from another user is closed unanswered even where the
// directory and socket have been opened up (as with the umask-then-chmod
// window of before).
func TestAdminSocketOwnerOnly(t *testing.T) {
	dir, err := os.MkdirTemp("", "keyport-admin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := ListenAdmin(dir)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, AdminSocket)
	fi, err := os.Stat(filepath.Dir(sock))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("admin directory: %v, %v", fi.Mode(), err)
	}
	go func() {
		_ = (&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}).Serve(ln)
	}()
	defer ln.Close()
	get := func() (string, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
		resp, err := c.Get("http://keyport/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if got, err := get(); err != nil || got != "ok" {
		t.Fatalf("the server's own user: %q, %v", got, err)
	}

	if os.Getuid() != 0 {
		t.Skip("connecting as another user needs root (CI runs as root)")
	}
	for _, p := range []string{dir, filepath.Dir(sock), sock} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	const nobody = 65534
	if err := syscall.Setresuid(-1, nobody, -1); err != nil {
		t.Fatalf("become uid %d: %v", nobody, err)
	}
	got, err := get()
	if err := syscall.Setresuid(-1, 0, -1); err != nil {
		panic(err) // the rest of the test binary must not run as nobody
	}
	if err == nil {
		t.Fatalf("another user was answered: %q", got)
	}
	if errors.Is(err, syscall.EACCES) {
		t.Fatalf("the test did not reach the socket (%v): it checks the peer check, not permissions", err)
	}
	if got, err := get(); err != nil || got != "ok" {
		t.Fatalf("after: %q, %v", got, err)
	}
}
