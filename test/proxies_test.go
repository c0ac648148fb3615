package test

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrustedProxies: behind --trusted-proxies, the audit log (and the
// failure guard and rate limits) take the client's address from
// X-Forwarded-For sent by a trusted proxy, and ignore it from anyone else.
func TestTrustedProxies(t *testing.T) {
	defer catch(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	s := startServer(t, "--audit-log", path, "--trusted-proxies", "127.0.0.4/32")
	send := func(from, forwarded string) {
		body := `{"Limit":1}`
		req := signedTC3(t, s, "ListKeys", body, map[string]string{"X-Forwarded-For": forwarded})
		req.Body = io.NopCloser(strings.NewReader(body))
		resp := must(clientFrom(from).Do(req))
		resp.Body.Close()
	}
	send("127.0.0.4", "203.0.113.9")  // the proxy: its header names the client
	send("127.0.0.1", "198.51.100.7") // a client naming an address: ignored
	s.stop(t)
	lines, _ := readAudit(t, path)
	var got []string
	for _, l := range lines {
		if l.Action == "ListKeys" {
			got = append(got, l.SourceIP)
		}
	}
	if strings.Join(got, " ") != "203.0.113.9 127.0.0.1" {
		t.Fatalf("source addresses %v, want the proxied client's, then the peer's", got)
	}
}
