package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service/wire"
)

// testMAC stands in for the HSM's HMAC (the end-to-end test uses the
// token's): a key only the writer and the checker hold.
var testKey = []byte("the deployment's audit key")

func testMACer() MACer {
	return MACer{Deployment: "dep", Key: "k1", MAC: func(_ context.Context, data []byte) ([]byte, error) {
		m := hmac.New(sha256.New, testKey)
		m.Write(data)
		return m.Sum(nil), nil
	}}
}

func testCheck(_ context.Context, key string, data, mac []byte) (bool, error) {
	m := hmac.New(sha256.New, testKey)
	m.Write(data)
	return key == "k1" && hmac.Equal(m.Sum(nil), mac), nil
}

// writeLog writes n request lines with checkpoints every 4, rotating (as
// logrotate and SIGHUP do) after half of them, and closes; it returns the
// files oldest first.
func writeLog(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoints(testMACer(), 4, time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if i == n/2 {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			if err := l.Reopen(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // the reopen's checkpoint
		}
		if err := l.Record(ctx, wire.Access{Dialect: "aliyun", Action: "Encrypt", RequestID: fmt.Sprint("r", i), Code: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart goes on with the same file's chain.
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Checkpoints(testMACer(), 4, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, wire.Access{Dialect: "aliyun", Action: "Decrypt", RequestID: "after restart", Code: "OK"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return []string{path + ".1", path}
}

func lines(t *testing.T, file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func put(t *testing.T, file string, ls []string) {
	if err := os.WriteFile(file, []byte(strings.Join(ls, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, files []string, live bool) *VerifyReport {
	t.Helper()
	r, err := Verify(context.Background(), files, testCheck, live)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A clean log, rotated, reopened and restarted, verifies; each kind of
// tampering is reported at its line.
func TestChainAndTampering(t *testing.T) {
	files := writeLog(t, 20)
	r := verify(t, files, false)
	if !r.OK() || len(r.Findings) != 0 || r.Checkpoints < 6 || r.Lines < 28 {
		t.Fatalf("a clean log: %+v", r)
	}
	// firstBreak is the first tampering finding.
	firstBreak := func(r *VerifyReport) Finding {
		for _, f := range r.Findings {
			if f.Tampered {
				return f
			}
		}
		return Finding{}
	}
	edited := 0 // the line "a field edited" changed
	cases := []struct {
		name   string
		change func(a, b []string) ([]string, []string)
		file   int // which file the finding is in
		line   int
		says   string
	}{
		{"a field edited", func(a, b []string) ([]string, []string) {
			for i := 5; i < len(a); i++ { // the first request line from line 6 on (checkpoints fall where the clock puts them)
				if strings.Contains(a[i], `"Encrypt"`) {
					a[i] = strings.Replace(a[i], `"Encrypt"`, `"Decrypt"`, 1)
					edited = i + 1
					break
				}
			}
			return a, b
		}, 0, -2, "was changed"},
		{"a line deleted", func(a, b []string) ([]string, []string) {
			return append(a[:5:5], a[6:]...), b
		}, 0, 6, "does not follow line 5"},
		{"two lines swapped", func(a, b []string) ([]string, []string) {
			a[5], a[6] = a[6], a[5]
			return a, b
		}, 0, 6, "does not follow line 5"},
		{"a line inserted", func(a, b []string) ([]string, []string) {
			return append(a[:3:3], append([]string{a[2]}, a[3:]...)...), b
		}, 0, 4, "does not follow line 3"},
		{"the tail cut off", func(a, b []string) ([]string, []string) {
			return a, b[:len(b)-2]
		}, 1, -1, "does not end with a closing checkpoint"},
		{"two files spliced", func(a, b []string) ([]string, []string) {
			return a[:len(a)-3], b
		}, 1, 1, "does not go on from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := writeLog(t, 20)
			a, b := c.change(lines(t, files[0]), lines(t, files[1]))
			put(t, files[0], a)
			put(t, files[1], b)
			r := verify(t, files, false)
			f := firstBreak(r)
			want := c.line
			switch want {
			case -1:
				want = len(b)
			case -2:
				want = edited + 1
			}
			if r.OK() || f.File != files[c.file] || f.Line != want || !strings.Contains(f.Problem, c.says) {
				t.Fatalf("got %+v, want %s line %d: %q", r.Findings, files[c.file], want, c.says)
			}
		})
	}
	// A part line at the end (a cut mid-line) is a truncation; a forged
	// checkpoint fails its MAC; a chain rewritten whole, hashes and all,
	// leaves its checkpoints covering lines that are no longer there.
	files = writeLog(t, 20)
	b, _ := os.ReadFile(files[1])
	_ = os.WriteFile(files[1], b[:len(b)-10], 0o600)
	if r := verify(t, files, false); r.OK() || !strings.Contains(firstBreak(r).Problem, "truncated") {
		t.Fatalf("a cut mid-line: %+v", r.Findings)
	}
	files = writeLog(t, 20)
	a := lines(t, files[0])
	for i, l := range a {
		if strings.Contains(l, `"mac":"`) {
			at := strings.Index(l, `"mac":"`) + 7
			a[i] = l[:at] + "00" + l[at+2:]
			put(t, files[0], a)
			if r := verify(t, files, false); r.OK() || firstBreak(r).Line != i+1 || !strings.Contains(firstBreak(r).Problem, "MAC does not hold") {
				t.Fatalf("a forged checkpoint at line %d: %+v", i+1, r.Findings)
			}
			break
		}
	}
	files = writeLog(t, 20)
	a = lines(t, files[0])
	for i := 2; i < len(a); i++ {
		if strings.Contains(a[i], `"Encrypt"`) {
			a[i] = strings.Replace(a[i], `"Encrypt"`, `"Decrypt"`, 1)
			break
		}
	}
	rechain(a)
	put(t, files[0], a)
	if r := verify(t, files[:1], true); r.OK() || !strings.Contains(firstBreak(r).Problem, "covers a line that is not in the chain") {
		t.Fatalf("a rewritten chain: %+v", r.Findings)
	}
}

// rechain recomputes every prev, as someone without the MAC key could.
func rechain(ls []string) {
	prev := ""
	for i, l := range ls {
		at := strings.LastIndex(l, `"prev":"`)
		l = l[:at] + `"prev":"` + prev + `"}`
		ls[i] = l
		prev = lineHash([]byte(l))
	}
}

// A failed write's part line is stepped over, not taken for tampering.
func TestTornLineIsAFault(t *testing.T) {
	files := writeLog(t, 8)
	a := lines(t, files[1])
	a = append(a[:2:2], append([]string{`{"time":"2026-12-08T00:00:00Z","dialect":"aliyun","act`}, a[2:]...)...)
	put(t, files[1], a)
	r := verify(t, files, false)
	if !r.OK() || len(r.Findings) != 1 || r.Findings[0].Line != 3 {
		t.Fatalf("%+v", r.Findings)
	}
	if !bytes.Contains([]byte(r.Findings[0].Problem), []byte("failed part-way")) {
		t.Fatal(r.Findings[0].Problem)
	}
}

// FuzzVerify: Verify reads files an attacker may have written; whatever
// they hold, it returns a report or an error, never panics, and a report
// without findings is only given for a chain that holds.
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	f.Add([]byte(`{"prev":""}` + "\n"))
	f.Add([]byte(`{"dialect":"admin","checkpoint":{"covers":"","mac":"zz","key":"k1"},"prev":""}` + "\n"))
	f.Add([]byte("not json\n{\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "fuzz.log")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Verify(context.Background(), []string{path}, testCheck, false)
		if err == nil && r.OK() && r.Lines > 0 && r.Checkpoints == 0 {
			t.Fatalf("a log without a checkpoint verified: %q", b)
		}
	})
}
