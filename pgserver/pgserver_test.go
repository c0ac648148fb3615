package pgserver

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A cluster whose test process was killed (SIGKILL: no deferred clean-up)
// is stopped and removed by the next process that starts one.
func TestStaleClusterReaped(t *testing.T) {
	if os.Getenv("KEYPORT_PGSERVER_CHILD") != "" {
		s, err := Start()
		if err != nil {
			os.Exit(1)
		}
		os.Stdout.WriteString(s.root + "\n")
		time.Sleep(time.Minute) // killed before this ends
		return
	}
	bin, err := BinDir()
	if err != nil {
		Require(t)
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run", "^TestStaleClusterReaped$")
	child.Env = append(os.Environ(), "KEYPORT_PGSERVER_CHILD=1")
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	root, err := bufio.NewReader(out).ReadString('\n')
	root = strings.TrimSpace(root)
	if err != nil || !strings.HasPrefix(filepath.Base(root), "keyport-pg-") {
		_ = child.Process.Kill()
		t.Fatalf("child: %q %v", root, err)
	}
	_ = child.Process.Kill()
	_ = child.Wait()
	if _, err := os.Stat(filepath.Join(root, "data", "postmaster.pid")); err != nil {
		t.Fatalf("the killed child's cluster is not running: %v", err)
	}
	reapStale(bin)
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("the stale cluster is still there: %v", err)
	}
}
