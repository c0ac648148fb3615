package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/pgserver"
)

// acked is a key and a ciphertext the server acknowledged, and when.
type acked struct {
	key, blob string
	hsm       bool
	plain     []byte
	asked, at time.Time // CreateKey sent, Encrypt answered
}

// drillStore is how one kind of store is backed up, lost and restored in
// TestBackupRestoreDrill.
type drillStore struct {
	start func(t *testing.T) *server
	// backup takes a backup while the server runs.
	backup func(t *testing.T, s *server)
	// restore makes the store again after the disaster (the server killed,
	// its store gone) and returns the id the restore recorded.
	restore func(t *testing.T, s *server) string
}

// TestBackupRestoreDrill is the operator's drill, on the embedded store and
// on PostgreSQL: back up under load, keep working, lose the store (kill -9
// and rm -rf, or a database gone), restore, start. Everything acknowledged
// before the backup works; keys made after it are gone from the store,
// reported by store verify, and their token objects stay; no wrapping
// public key the old store handed out is handed out again.
func TestBackupRestoreDrill(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { drill(t, boltDrill()) })
	t.Run("postgres", func(t *testing.T) { drill(t, postgresDrill()) })
}

func boltDrill() drillStore {
	var file string
	return drillStore{
		start: func(t *testing.T) *server { return startServer(t, "--rate-limit", "0") },
		backup: func(t *testing.T, s *server) {
			file = filepath.Join(t.TempDir(), "keyport.backup")
			r := keyport(t, s.env, "store", "backup", "--to", file, "--json")
			var snap struct {
				ID      string
				Records struct{ Keys int }
			}
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &snap) != nil || snap.ID == "" || snap.Records.Keys == 0 {
				t.Fatalf("store backup under load: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			keyport(t, s.env, "store", "backup", "--to", file).expect(t, 1, "never overwritten")
		},
		restore: func(t *testing.T, s *server) string {
			must(0, os.RemoveAll(s.dir))
			notEmpty := t.TempDir()
			must(0, os.WriteFile(filepath.Join(notEmpty, "x"), nil, 0o600))
			keyport(t, s.env, "store", "restore", "--from", file, "--data-dir", notEmpty, "--yes").expect(t, 1, "not empty")
			keyport(t, s.env, "store", "restore", "--from", file, "--data-dir", s.dir).expect(t, 1, "nothing restored")
			if _, err := os.Stat(s.dir); err == nil {
				t.Fatal("a refused restore made the data directory")
			}
			keyport(t, s.env, "store", "restore", "--from", filepath.Join(notEmpty, "x"), "--data-dir", s.dir, "--yes").expect(t, 1, "backup")
			whole := must(os.ReadFile(file))
			cut := filepath.Join(t.TempDir(), "cut")
			must(0, os.WriteFile(cut, whole[:len(whole)/2], 0o600))
			keyport(t, s.env, "store", "restore", "--from", cut, "--data-dir", s.dir, "--yes").expect(t, 1, "cut short")
			return restoreID(t, keyport(t, s.env, "store", "restore", "--from", file, "--data-dir", s.dir, "--yes", "--json"))
		},
	}
}

func postgresDrill() drillStore {
	var dump string
	return drillStore{
		start: func(t *testing.T) *server {
			rs := startReplicas(t, pgserver.Database(t), 1, "--rate-limit", "0")
			return rs.nodes[0]
		},
		backup: func(t *testing.T, s *server) {
			dump = filepath.Join(t.TempDir(), "keyport.dump")
			pgTool(t, "pg_dump", "--format=custom", "--file", dump, "--dbname", storeOf(s))
		},
		restore: func(t *testing.T, s *server) string {
			// The old database is gone; a new one gets the dump.
			url := pgserver.Database(t)
			pgTool(t, "pg_restore", "--no-owner", "--dbname", url, dump)
			env := []string{"KEYPORT_STORE=" + url}
			for _, kv := range s.env {
				if !strings.HasPrefix(kv, "KEYPORT_STORE=") {
					env = append(env, kv)
				}
			}
			s.env = env
			keyport(t, s.env, "store", "restore").expect(t, 1, "nothing changed")
			return restoreID(t, keyport(t, s.env, "store", "restore", "--yes", "--json"))
		},
	}
}

func storeOf(s *server) string {
	for _, kv := range s.env {
		if url, ok := strings.CutPrefix(kv, "KEYPORT_STORE="); ok {
			return url
		}
	}
	return ""
}

// pgTool runs one of PostgreSQL's client programs.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	bin := must(pgserver.BinDir())
	if out, err := exec.Command(filepath.Join(bin, name), args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func restoreID(t *testing.T, r result) string {
	t.Helper()
	var rep struct {
		Snapshot    struct{ ID string }
		PoolDropped int `json:"pool_dropped"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Snapshot.ID == "" || rep.PoolDropped == 0 {
		t.Fatalf("store restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return rep.Snapshot.ID
}

func drill(t *testing.T, d drillStore) {
	s := d.start(t)
	ctx := ctxT(t)
	connect := func() *client.Client {
		return must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	}
	cl := connect()
	handedOut := map[string]bool{}
	getParams := func() {
		t.Helper()
		k := must(cl.CreateKey(ctx, true, true))
		p := must(cl.GetParametersForImport(ctx, k, "RSA_2048", "RSAES_OAEP_SHA_256"))
		if handedOut[string(p.PublicKey)] {
			t.Fatalf("a wrapping public key handed out twice")
		}
		handedOut[string(p.PublicKey)] = true
	}
	getParams()

	// Load: four clients making keys (HSM-level and SOFTWARE) and
	// encrypting under them, each success noted with when it was asked
	// and answered.
	var mu sync.Mutex
	var done []acked
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				hsm, asked := (w+i)%2 == 0, time.Now()
				k, err := cl.CreateKey(ctx, false, hsm)
				if err != nil {
					t.Errorf("CreateKey under load: %v", err)
					return
				}
				plain := fmt.Appendf(nil, "worker %d item %d", w, i)
				blob, err := cl.Encrypt(ctx, k, plain)
				if err != nil {
					t.Errorf("Encrypt under load: %v", err)
					return
				}
				mu.Lock()
				done = append(done, acked{k, blob, hsm, plain, asked, time.Now()})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Second)
	began := time.Now()
	d.backup(t, s)
	ended := time.Now()
	time.Sleep(time.Second) // keep working after the backup
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	// After the backup: HSM-level keys, and wrapping keys handed out
	// (the pool the backup holds among them).
	var later []string
	for range 3 {
		later = append(later, must(cl.CreateKey(ctx, false, true)))
		getParams()
	}
	var before []acked
	for _, a := range done {
		switch {
		case a.at.Before(began):
			before = append(before, a)
		case a.asked.After(ended) && a.hsm:
			later = append(later, a.key)
		}
	}
	if len(before) == 0 {
		t.Fatal("nothing acknowledged before the backup")
	}

	// The disaster, and the restore.
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
	id := d.restore(t, s)

	// store verify names the restore, finds nothing wrong, and lists the
	// material objects of the keys made after the backup.
	verify := func(when string) {
		t.Helper()
		r := keyport(t, s.env, "store", "verify", "--json")
		var rep struct {
			Problems     []string
			Unnamed      []struct{ ID, Label string }
			RestoredFrom *struct{ ID string }
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.RestoredFrom == nil || rep.RestoredFrom.ID != id {
			t.Fatalf("store verify %s: exit %d\n%s%s", when, r.code, r.stdout, r.stderr)
		}
		var labels bytes.Buffer
		for _, o := range rep.Unnamed {
			labels.WriteString(o.Label + "\n")
		}
		for _, k := range later {
			if !strings.Contains(labels.String(), "/material/"+k+"/") {
				t.Errorf("store verify %s: the token object of key %s, made after the backup, is not listed", when, k)
			}
		}
	}
	verify("after the restore")

	s.start(t, "--rate-limit", "0")
	cl = connect()
	for _, a := range before {
		plain, err := cl.Decrypt(ctx, a.blob)
		if err != nil || !bytes.Equal(plain, a.plain) {
			t.Fatalf("a ciphertext acknowledged before the backup, after the restore: %v", err)
		}
	}
	for _, k := range later[:3] {
		if _, err := cl.KeyState(ctx, k); err == nil || !strings.Contains(err.Error(), "NotFound") {
			t.Errorf("key %s, made after the backup, after the restore: %v", k, err)
		}
	}
	for range 4 {
		getParams()
	}
	s.stop(t)
	verify("after start-up") // start-up destroyed none of them
	if s.dir != "" {
		// A stopped server's store is backed up too, from the file itself.
		keyport(t, s.env, "store", "backup", "--to", filepath.Join(t.TempDir(), "stopped.backup")).expect(t, 0, "checked")
	}
	t.Logf("%d ciphertexts acknowledged before the backup decrypt after the restore; %d keys made after it left on the token", len(before), len(later))
}
