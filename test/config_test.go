package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/softhsm"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A config file sets serve's flags by their names; a mistake in it ends
// check-config (and serve) with exit 1 and one line naming the key and the
// file; flags override the environment, which overrides the file.
func TestConfigFile(t *testing.T) {
	module, err := softhsm.FindModule()
	if err != nil {
		softhsm.Require(t)
		t.Fatal(err)
	}
	good := "module: " + module + "\ntoken-label: any\ndata-dir: " + t.TempDir() + "\nrate-limit: 50\npool-rsa: 4\nimport-token-ttl: 12h\ninsecure-http: false\n"
	env := []string{"KEYPORT_PIN=1"}
	for _, tc := range []struct {
		name, file string
		env, args  []string
		code       int
		msg        string
	}{
		{"good", good, nil, nil, 0, "configuration OK"},
		{"the example in deploy/", "", nil, []string{"--config", "../deploy/keyport.yaml", "--tls-cert", "", "--tls-key", "", "--module", module,
			"--insecure-http", "--pin-file", writeFile(t, "pin", "1234"), "--audit-log", filepath.Join(t.TempDir(), "audit.log")}, 0, "configuration OK"},
		{"unknown key", good + "listne: 127.0.0.1:1\n", nil, nil, 1, `unknown key "listne"`},
		{"wrong type", good + "pool-sm2: many\n", nil, nil, 1, `key "pool-sm2": want a whole number, not "many"`},
		{"wrong duration", good + "secret-cache-ttl: soon\n", nil, nil, 1, `key "secret-cache-ttl": want a duration`},
		{"a list", good + "listen: [a, b]\n", nil, nil, 1, `key "listen": want a single value`},
		{"empty document", "", nil, nil, 1, "the file is empty"},
		{"empty mapping", "{}\n", nil, nil, 1, "the document is empty"},
		{"not a mapping", "- listen\n", nil, nil, 1, "want a mapping"},
		{"twice", good + "pool-rsa: 5\n", nil, nil, 1, `key "pool-rsa" given twice`},
		{"the file's value is used", good + "listen: nope\n", nil, nil, 2, "--listen"},
		{"the environment overrides the file", good + "listen: nope\n", []string{"KEYPORT_LISTEN=127.0.0.1:1"}, nil, 0, "configuration OK"},
		{"a flag overrides the environment", good, []string{"KEYPORT_LISTEN=127.0.0.1:1"}, []string{"--listen", "nope"}, 2, "--listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.name != "the example in deploy/" {
				args = append([]string{"--config", writeFile(t, "keyport.yaml", tc.file)}, args...)
			}
			r := keyport(t, append(append([]string{}, env...), tc.env...), append([]string{"check-config"}, args...)...)
			r.expect(t, tc.code, tc.msg)
			if tc.code == 1 && (strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "keyport.yaml")) {
				t.Fatalf("want one line naming the file:\n%s", r.stderr)
			}
		})
	}
}

// serve takes its whole configuration from KEYPORT_CONFIG.
func TestServeFromConfigFile(t *testing.T) {
	tok := softhsm.New(t)
	pin := writeFile(t, "pin", tok.PIN)
	s := &server{tok: tok, dir: filepath.Join(t.TempDir(), "data")}
	conf := writeFile(t, "keyport.yaml", "module: "+tok.Module+"\ntoken-label: "+tok.Label+"\npin-file: "+pin+"\ndata-dir: "+s.dir+"\npool-rsa: 1\n")
	s.env = []string{"KEYPORT_CONFIG=" + conf}
	s.start(t)
	s.ak, s.sk = newAccessKey(t, []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN, "KEYPORT_DATA_DIR=" + s.dir})
	c := newV1(t, s, s.sk)
	c.byok("SOFTWARE", "RSAES_OAEP_SHA_256")
}

// The systemd unit in deploy/ passes systemd-analyze verify, where systemd
// is installed, with the built binary in place of /usr/local/bin/keyport.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../deploy/keyport.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=keyport", "KEYPORT_CONFIG=/etc/keyport/keyport.yaml", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"PrivateTmp=yes", "StateDirectory=keyport", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(string(unit), want) {
			t.Fatalf("the unit lacks %s", want)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	path := writeFile(t, "keyport.service", strings.ReplaceAll(string(unit), "/usr/local/bin/keyport", keyportBin))
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// Every request leaves one access-log line at info; --log-format json makes
// every log line a JSON object.
func TestAccessLogJSON(t *testing.T) {
	s := startServer(t, "--log-format", "json")
	c := newV1(t, s, s.sk)
	c.byok("SOFTWARE", "RSAES_OAEP_SHA_1")
	rawTC3(t, s, "DescribeKey", `{"KeyId":"nope"}`, nil)
	type line struct {
		Level       string   `json:"level"`
		Msg         string   `json:"msg"`
		Dialect     string   `json:"dialect"`
		RequestID   string   `json:"request_id"`
		Action      string   `json:"action"`
		AccessKeyID string   `json:"access_key_id"`
		Code        string   `json:"code"`
		DurationMs  *float64 `json:"duration_ms"`
	}
	expected := []string{"aliyun CreateKey OK", "aliyun GetParametersForImport OK", "aliyun ImportKeyMaterial OK", "tencent DescribeKey InvalidParameterValue.InvalidKeyId"}
	var requests []line
	// The server writes each line before it answers; this process reads
	// the server's stderr through a pipe, so the last may still be on its way.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		requests = requests[:0]
		text := s.stderr.String()
		text = text[:strings.LastIndex(text, "\n")+1] // whole lines only
		for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
			var r line
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("a log line that is not JSON: %q", l)
			}
			if r.Msg == "request" {
				requests = append(requests, r)
			}
		}
		if len(requests) >= len(expected) || time.Now().After(deadline) {
			break
		}
	}
	var got []string
	for _, r := range requests {
		if r.Level != "INFO" || r.RequestID == "" || r.AccessKeyID != s.ak || r.DurationMs == nil {
			t.Fatalf("access log line: %+v", r)
		}
		got = append(got, r.Dialect+" "+r.Action+" "+r.Code)
	}
	if strings.Join(got, "\n") != strings.Join(expected, "\n") {
		t.Fatalf("access log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(expected, "\n"))
	}
}
