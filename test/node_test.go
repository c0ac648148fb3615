package test

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"
)

// nodeClient runs one of test/node's scripts, which drive an official Node.js
// client against the server, and decodes the line it prints.
func nodeClient(t *testing.T, script string, s *server, out any) {
	t.Helper()
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat("node/node_modules"); err != nil || statErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node and test/node/node_modules are needed; make test installs them")
		}
		t.Skip("node or test/node/node_modules missing; `make test` installs them")
	}
	b, err := exec.Command(node, "node/"+script, s.addr, s.ak, s.sk).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s printed %s", script, b)
	}
}

func TestNodeClients(t *testing.T) {
	s := startServer(t)
	t.Run("@alicloud/pop-core", func(t *testing.T) {
		var r struct {
			State, PublicKey, Expires, ErrorCode string
			Total                                int
		}
		nodeClient(t, "aliyun.js", s, &r)
		if r.State != "PendingImport" || r.PublicKey == "" || r.Expires == "" || r.Total != 1 || r.ErrorCode != "Forbidden.KeyNotFound" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("tencentcloud-sdk-nodejs-common", func(t *testing.T) {
		var r struct {
			State, PublicKey, ErrorCode string
			ValidTo                     int64
			Total                       int
		}
		nodeClient(t, "tencent.js", s, &r)
		if r.State != "PendingImport" || r.PublicKey == "" || r.ValidTo < time.Now().Unix() || r.Total != 2 || r.ErrorCode != "ResourceUnavailable.CmkNotFound" {
			t.Fatalf("%+v", r)
		}
	})
	// Asymmetric keys through both Node clients, each result checked with
	// Node's own crypto.
	for _, script := range []string{"aliyun_asymmetric.js", "tencent_asymmetric.js"} {
		t.Run(script, func(t *testing.T) {
			var r struct {
				VerifiedHere, VerifiedThere bool
				Decrypted                   string
			}
			nodeClient(t, script, s, &r)
			if !r.VerifiedHere || !r.VerifiedThere || r.Decrypted != "to the HSM" {
				t.Fatalf("%+v", r)
			}
		})
	}
}
