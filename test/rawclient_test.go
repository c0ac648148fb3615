package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/test/signers"
)

// rawV1 signs RPC v1 requests itself, written from the published algorithm
// rather than from Keyport's code, so tests can send what SDKs never do:
// replayed nonces, stale timestamps, parameters in odd places.
type rawV1 struct {
	addr, ak, sk string
}

// sign adds the common parameters (unless present) and the signature.
func (c rawV1) sign(method string, p map[string]string) {
	defaults := map[string]string{
		"Version": "2016-01-20", "AccessKeyId": c.ak, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"SignatureNonce": fmt.Sprint(time.Now().UnixNano()), "Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
	}
	for k, v := range defaults {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	p["Signature"] = signers.RPC(method, c.sk, p)
}

type rawResponse struct {
	status int
	ctype  string
	body   map[string]any
	raw    string
}

// do sends p in the query (inQuery) or as a form body, with extra headers.
func (c rawV1) do(t *testing.T, method string, p map[string]string, inQuery bool, headers map[string]string) rawResponse {
	t.Helper()
	v := url.Values{}
	for k, val := range p {
		v.Set(k, val)
	}
	u := "http://" + c.addr + "/"
	var body io.Reader
	if inQuery {
		u += "?" + v.Encode()
	} else {
		body = strings.NewReader(v.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if !inQuery {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := rawResponse{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), raw: string(b)}
	_ = json.Unmarshal(b, &out.body)
	return out
}

func (r rawResponse) expect(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.body["Code"] != code) {
		t.Fatalf("got %d %v, want %d %s\n%s", r.status, r.body["Code"], status, code, r.raw)
	}
	if r.body["RequestId"] == "" || r.body["RequestId"] == nil {
		t.Fatalf("no RequestId: %s", r.raw)
	}
	if code == "" {
		if _, has := r.body["Code"]; has {
			t.Fatalf("a success body has a top-level Code: %s", r.raw)
		}
	}
}
