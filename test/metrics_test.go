package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape reads GET /metrics and returns each sample's value by its full
// name with labels, as the text format writes it.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndex(l, " ")
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q", l)
		}
		out[l[:i]] = v
	}
	return out
}

// GET /metrics in the Prometheus text format: requests by dialect, action
// and code, their durations, HSM operations and session waits, the
// token's health and objects, the pools, the build, Go and the process.
func TestMetrics(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newV1(t, s, s.sk)
	c.byok("HSM", "RSAES_OAEP_SHA_256")
	rawTC3(t, s, "DescribeKey", `{"KeyId":"nope"}`, nil)
	// The token-object count is refreshed in the background, at most
	// service.HealthMaxAge after a scrape finds it old.
	m := scrape(t, s.url("/metrics"))
	for deadline := time.Now().Add(3 * time.Second); m["keyport_token_objects"] < 5 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		m = scrape(t, s.url("/metrics"))
	}
	for _, want := range []string{
		`keyport_requests_total{action="ImportKeyMaterial",code="OK",dialect="aliyun"}`,
		`keyport_requests_total{action="DescribeKey",code="InvalidParameterValue.InvalidKeyId",dialect="tencent"}`,
		`keyport_request_duration_seconds_count{action="GetParametersForImport",dialect="aliyun"}`,
		`keyport_hsm_operation_duration_seconds_count{operation="mac"}`,
		`keyport_hsm_operation_duration_seconds_count{operation="import_aes"}`,
		`keyport_hsm_session_wait_seconds_count`,
		`keyport_hsm_up`,
		`keyport_wrapping_pool_keys{spec="RSA_2048"}`,
		`keyport_wrapping_pool_keys{spec="EC_SM2"}`,
		`keyport_wrapping_pool_inline_generations_total{spec="RSA_2048"}`,
		`keyport_token_objects`,
		`keyport_build_info{version="dev"}`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if _, ok := m[want]; !ok {
			t.Fatalf("no %s in /metrics", want)
		}
	}
	if m[`keyport_requests_total{action="ImportKeyMaterial",code="OK",dialect="aliyun"}`] != 1 || m["keyport_hsm_up"] != 1 || m["keyport_token_objects"] < 5 {
		t.Fatalf("values: imports %v, hsm_up %v, token objects %v", m[`keyport_requests_total{action="ImportKeyMaterial",code="OK",dialect="aliyun"}`], m["keyport_hsm_up"], m["keyport_token_objects"])
	}

	// --metrics-listen moves it off the API listener.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s2 := startServer(t, "--metrics-listen", addr)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no metrics listener")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := scrape(t, "http://"+addr+"/metrics")["keyport_hsm_up"]; !ok {
		t.Fatal("no keyport_hsm_up on --metrics-listen")
	}
	if resp, err := http.Get(s2.url("/metrics")); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("/metrics still on the API listener: %v", err)
	}

	// A listener off loopback serves no /metrics unless --metrics-listen says where.
	s3 := startServer(t, "--listen", "0.0.0.0:0", "--insecure-http")
	_, port, _ := net.SplitHostPort(s3.addr)
	if resp, err := http.Get("http://127.0.0.1:" + port + "/metrics"); err != nil || resp.StatusCode == http.StatusOK {
		t.Fatalf("/metrics on a listener off loopback: %v %v", resp, err)
	}
}

// The Grafana dashboard in deploy/ is valid JSON and asks only for
// metrics Keyport serves.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil || len(d.Panels) == 0 {
		t.Fatalf("dashboard: %v", err)
	}
	served := regexp.MustCompile(`^keyport_(requests_total|request_duration_seconds_bucket|hsm_operation_duration_seconds_bucket|hsm_up|wrapping_pool_keys|wrapping_pool_inline_generations_total|hsm_session_wait_seconds_bucket|token_objects|build_info)$|^process_resident_memory_bytes$|^go_goroutines$`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, name := range regexp.MustCompile(`\b(keyport_[a-z_]+|process_[a-z_]+|go_[a-z_]+)\b`).FindAllString(tg.Expr, -1) {
				if !served.MatchString(name) {
					t.Fatalf("panel %q asks for %s, which Keyport does not serve", p.Title, name)
				}
			}
		}
	}
	fmt.Println(len(d.Panels), "panels")
}
