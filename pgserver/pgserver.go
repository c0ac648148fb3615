// Package pgserver runs throwaway PostgreSQL servers for tests: a cluster
// made with initdb in a temporary directory and started with pg_ctl on a
// loopback port, as a non-root user where the tests run as root (PostgreSQL
// refuses to run as root). Tests get a database of their own on one server
// per test process (Shared), or a server of their own (Start) where they
// stop and restart it.
package pgserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled says the PostgreSQL server binaries are not on this machine.
var ErrNotInstalled = errors.New("PostgreSQL server not found (initdb, pg_ctl): install postgresql (apt-get install postgresql; `make deps` does)")

// BinDir finds the directory of initdb and pg_ctl: on PATH, or where
// Debian's postgresql package puts them (/usr/lib/postgresql/N/bin, the
// newest N).
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Server is one running cluster.
type Server struct {
	bin, root, data string
	Port            int
	cred            *syscall.Credential // whom PostgreSQL runs as (nil: this process's user)
}

// ownerFile, in a cluster's directory, holds the pid of the test process
// that made it, so that a later process can stop a cluster whose owner was
// killed before it could (a test binary's timeout panics past deferred
// clean-ups).
const ownerFile = "owner.pid"

var reapOnce sync.Once

// reapStale stops and removes the clusters of test processes that are gone.
func reapStale(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "keyport-pg-*"))
	for _, root := range dirs {
		b, err := os.ReadFile(filepath.Join(root, ownerFile))
		if err != nil {
			continue // being made now, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its owner is alive
		}
		stale := &Server{bin: bin, root: root, data: filepath.Join(root, "data")}
		if fi, err := os.Stat(root); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Getuid()) {
				stale.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			}
		}
		stale.Close()
	}
}

// Start makes a cluster in a new temporary directory and starts it.
func Start() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	reapOnce.Do(func() { reapStale(bin) })
	root, err := os.MkdirTemp("", "keyport-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	s := &Server{bin: bin, root: root, data: filepath.Join(root, "data")}
	if os.Getuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			os.RemoveAll(root)
			return nil, fmt.Errorf("PostgreSQL will not run as root and there is no user nobody: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(root, uid, gid); err != nil {
			os.RemoveAll(root)
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if s.Port, err = freePort(); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	if err := s.Restart(); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.root
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// Restart starts the cluster (again, after Stop or Kill) on the same port
// and waits until it takes connections.
func (s *Server) Restart() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=32MB", s.Port, s.root)
	out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", s.data, "-l", filepath.Join(s.root, "log"), "-o", opts)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.root, "log"))
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the cluster: mode "fast" (clients disconnected, a clean
// shutdown) or "immediate" (as if the machine lost power).
func (s *Server) Stop(mode string) error {
	if out, err := s.run("pg_ctl", "stop", "-w", "-D", s.data, "-m", mode); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Close stops the cluster and removes its directory.
func (s *Server) Close() {
	_ = s.Stop("immediate")
	os.RemoveAll(s.root)
}

// URL is the connection URL of database db, over the server's Unix
// socket (as a database on the same machine is reached).
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", db, s.root, s.Port)
}

// OverTCP turns a URL of this package into one over TCP on loopback.
func OverTCP(url string) string {
	u, err := neturl.Parse(url)
	if err != nil {
		return url
	}
	q := u.Query()
	u.Host = "127.0.0.1:" + q.Get("port")
	q.Del("host")
	q.Del("port")
	u.RawQuery = q.Encode()
	return u.String()
}

// NewDatabase creates a database with a fresh name and returns its URL.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "kp_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	return s.URL(name), nil
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// Require stops the test when PostgreSQL is missing: a skip on a laptop, a
// failure under CI=true.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs PostgreSQL")
	}
	if _, err := BinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skip(err)
	}
}

// Database gives the test a new, empty database on the test process's
// shared server, started on first use (Main stops it).
func Database(t testing.TB) string {
	t.Helper()
	Require(t)
	sharedMu.Lock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start()
	}
	s, err := shared, sharedErr
	sharedMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, err := s.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Own gives the test a server of its own, closed when the test ends.
func Own(t testing.TB) *Server {
	t.Helper()
	Require(t)
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// StopShared stops the shared server if one was started; TestMain calls it
// after the tests.
func StopShared() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Close()
		shared = nil
	}
}

// Main is for TestMain in packages that use Database: it runs the tests and
// stops the shared server.
func Main(m *testing.M) int {
	defer StopShared()
	return m.Run()
}
