package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/client"
)

// floodRequest is one unauthenticated request of kind i, with every field a
// stranger controls as large as the server accepts: 60 KB bodies, headers
// near the 32 KiB header limit, actions, AccessKeyIds and KeyIds of any
// bytes.
func floodRequest(t *testing.T, addr string, i int) *http.Request {
	const text = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<>\"'%\xc3\xa9"
	pick := func(n int, alphabet string) string {
		b := make([]byte, n)
		for j := range b {
			b[j] = alphabet[rand.IntN(len(alphabet))]
		}
		return string(b)
	}
	junk := func(n int) string { return pick(n, text+"\x01\n") } // bodies: any bytes
	header := func(n int) string { return pick(n, text) }        // what a header may carry
	var req *http.Request
	var err error
	switch i % 5 {
	case 0: // Aliyun RPC, no credentials, a 60 KB action in the form body
		form := url.Values{"Action": {junk(60_000)}, "KeyId": {junk(300)}}
		req, err = http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(form.Encode()[:min(len(form.Encode()), 60_000)]))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case 1: // Aliyun RPC, a forged signature, a huge AccessKeyId in the body
		form := url.Values{"Action": {"Encrypt" + junk(20)}, "AccessKeyId": {junk(30_000)}, "Signature": {"x"}, "SignatureMethod": {"HMAC-SHA1"},
			"SignatureVersion": {"1.0"}, "SignatureNonce": {junk(20)}, "Timestamp": {time.Now().UTC().Format(time.RFC3339)}, "Version": {"2016-01-20"},
			"KeyId": {junk(25_000)}, "Format": {"JSON"}}
		req, err = http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case 2: // ACS3, a malformed Authorization and a long x-acs-action
		req, err = http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(junk(60_000)))
		req.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+header(12_000))
		req.Header.Set("x-acs-action", header(12_000))
	case 3: // Tencent, a long X-TC-Action, a long SecretId, a 60 KB body
		req, err = http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(`{"KeyId":"`+junk(60_000)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-TC-Action", header(14_000))
		req.Header.Set("X-TC-Version", "2019-01-18")
		req.Header.Set("X-TC-Timestamp", fmt.Sprint(time.Now().Unix()))
		req.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential="+header(14_000)+"/"+time.Now().UTC().Format("2006-01-02")+"/kms/tc3_request, SignedHeaders=content-type;host, Signature=00")
	case 4: // Tencent, no credentials at all, not even JSON
		req, err = http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(junk(60_000)))
		req.Header.Set("X-TC-Action", header(30_000))
	}
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestUnauthenticatedFloodIsBounded: 10,000 unauthenticated requests from
// one address, every field at its largest, grow neither the server's
// memory, nor its metric series, nor its audit and access logs by more than
// their bounds, while a signed client on another address keeps working.
func TestUnauthenticatedFloodIsBounded(t *testing.T) {
	defer catch(t)
	auditPath := filepath.Join(t.TempDir(), "audit.log")
	s := startServer(t, "--audit-log", auditPath)
	ctx := ctxT(t)
	cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: s.ak, Secret: s.sk}))
	id := must(cl.CreateKey(ctx, false, false))
	attacker := clientFrom("127.0.0.3")
	flood := func(n int) {
		var wg sync.WaitGroup
		var next atomic.Int64
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
					resp, err := attacker.Do(floodRequest(t, s.addr, i))
					if err != nil {
						t.Errorf("flood request %d: %v", i, err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 500 {
						t.Errorf("flood request %d: HTTP %d", i, resp.StatusCode)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	series := func() int {
		n := 0
		for name := range scrape(t, s.url("/metrics")) {
			if strings.HasPrefix(name, "keyport_") {
				n++
			}
		}
		return n
	}
	size := func(path string) int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}

	must(cl.Encrypt(ctx, id, []byte("warm"))) // the signed client's series exist before the count
	flood(1000)                               // warm-up: every kind of refusal, the allocator at its steady state
	time.Sleep(11 * time.Second)              // the warm-up's summary lines are out
	series0, rss0, audit0, log0 := series(), rssKB(t, s.cmd.Process.Pid), size(auditPath), s.stderr.Len()

	stop := make(chan struct{})
	var signedOK, signedFailed atomic.Int64
	var signed sync.WaitGroup
	signed.Add(1)
	go func() { // a signed client on 127.0.0.1 throughout
		defer signed.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := cl.Encrypt(context.Background(), id, []byte("still here")); err != nil {
				signedFailed.Add(1)
				t.Logf("signed Encrypt during the flood: %v", err)
			} else {
				signedOK.Add(1)
			}
		}
	}()
	start := time.Now()
	flood(10_000)
	took := time.Since(start)
	time.Sleep(11 * time.Second) // the flood's summary lines are out
	close(stop)
	signed.Wait()

	rss1 := rssKB(t, s.cmd.Process.Pid)
	// What the flood added: the attacker's lines after the warm-up (the
	// signed client's lines are its own).
	attackerBytes := func(text string) (n int) {
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, "127.0.0.3") {
				n += len(l) + 1
			}
		}
		return n
	}
	rawAudit, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	audit1, log1 := audit0+int64(attackerBytes(string(rawAudit[audit0:]))), log0+attackerBytes(s.stderr.String()[log0:])
	series1 := series()
	t.Logf("10,000 requests in %v: RSS %d → %d KB, metric series %d → %d, audit log +%d B, access log +%d B; signed client %d ok, %d failed",
		took.Round(time.Millisecond), rss0, rss1, series0, series1, audit1-audit0, log1-log0, signedOK.Load(), signedFailed.Load())
	if rss1-rss0 > 5*1024 {
		t.Errorf("RSS grew by %d KB, more than 5 MB", rss1-rss0)
	}
	if series1 != series0 {
		t.Errorf("metric series %d → %d", series0, series1)
	}
	if audit1-audit0 > 1<<20 || log1-log0 > 1<<20 {
		t.Errorf("audit log grew by %d bytes, access log by %d: more than 1 MB", audit1-audit0, log1-log0)
	}
	if signedFailed.Load() > 0 || signedOK.Load() == 0 {
		t.Errorf("the signed client on another address: %d ok, %d failed", signedOK.Load(), signedFailed.Load())
	}
	// The refusals are summed: lines that say how many, not a line each.
	lines, raw := readAudit(t, auditPath)
	summed := 0
	for _, l := range lines {
		if l.Action == "RefusedUnread" {
			summed++
		}
	}
	if summed == 0 || !bytes.Contains([]byte(raw), []byte(`"count":`)) {
		t.Errorf("no summary line of refused requests in the audit log")
	}
	for _, l := range strings.Split(raw, "\n") {
		if len(l) > 4096 {
			t.Fatalf("an audit line of %d bytes", len(l))
		}
	}
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if len(l) > 4096 {
			t.Fatalf("an access-log line of %d bytes", len(l))
		}
	}
}
