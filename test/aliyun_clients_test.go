package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// How real clients in other languages send requests (the reference's table),
// and what the server must refuse.
func TestAliyunWireVariants(t *testing.T) {
	s := startServer(t)
	c := rawV1{addr: s.addr, ak: s.ak, sk: s.sk}
	call := func(p map[string]string, method string, inQuery bool, headers map[string]string) rawResponse {
		c.sign(method, p)
		return c.do(t, method, p, inQuery, headers)
	}
	t.Run("Node pop-core: everything in a form body, x-acs-action header", func(t *testing.T) {
		r := call(map[string]string{"Action": "CreateKey", "Format": "JSON", "Origin": "EXTERNAL"}, "POST", false,
			map[string]string{"x-acs-action": "CreateKey", "x-acs-version": "2016-01-20"})
		r.expect(t, 200, "")
		md, _ := r.body["KeyMetadata"].(map[string]any)
		if md["KeyState"] != "PendingImport" || !strings.HasPrefix(r.ctype, "application/json") {
			t.Fatalf("%s (%s)", r.raw, r.ctype)
		}
	})
	t.Run("Node kms20160120 1.x: query, empty POST, Format=json lower-case", func(t *testing.T) {
		r := call(map[string]string{"Action": "ListKeys", "Format": "json"}, "POST", true, map[string]string{"x-acs-action": "ListKeys"})
		r.expect(t, 200, "")
		if r.body["TotalCount"] != float64(1) {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("GET with the query", func(t *testing.T) {
		call(map[string]string{"Action": "ListKeys", "Format": "JSON"}, "GET", true, nil).expect(t, 200, "")
	})
	t.Run("no Format means XML, sent as text/xml;charset=utf-8", func(t *testing.T) {
		r := call(map[string]string{"Action": "ListKeys"}, "GET", true, nil)
		if r.status != 200 || r.ctype != "text/xml;charset=utf-8" || !strings.Contains(r.raw, "<ListKeysResponse>") || !strings.Contains(r.raw, "<TotalCount>1</TotalCount>") {
			t.Fatalf("%d %s %s", r.status, r.ctype, r.raw)
		}
	})
	t.Run("XML errors", func(t *testing.T) {
		r := call(map[string]string{"Action": "DescribeKey", "KeyId": "nope", "Format": "XML"}, "GET", true, nil)
		if r.status != 404 || r.ctype != "text/xml;charset=utf-8" || !strings.Contains(r.raw, "<Code>Forbidden.KeyNotFound</Code>") || !strings.Contains(r.raw, "<RequestId>") {
			t.Fatalf("%d %s %s", r.status, r.ctype, r.raw)
		}
	})
	for _, tc := range []struct {
		name   string
		p      map[string]string
		status int
		code   string
	}{
		{"unknown action", map[string]string{"Action": "FrobnicateKey", "Format": "JSON"}, 400, "InvalidAction.NotFound"},
		{"missing parameter", map[string]string{"Action": "DescribeKey", "Format": "JSON"}, 400, "MissingParameter"},
		{"stale timestamp", map[string]string{"Action": "ListKeys", "Format": "JSON", "Timestamp": time.Now().Add(-16 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")}, 400, "IllegalTimestamp"},
		{"future timestamp", map[string]string{"Action": "ListKeys", "Format": "JSON", "Timestamp": time.Now().Add(16 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")}, 400, "IllegalTimestamp"},
		{"unknown access key", map[string]string{"Action": "ListKeys", "Format": "JSON", "AccessKeyId": "KPAKNOSUCHKEY"}, 404, "InvalidAccessKeyId.NotFound"},
		{"other version", map[string]string{"Action": "ListKeys", "Format": "JSON", "Version": "2015-01-01"}, 400, "InvalidVersion"},
		{"bad base64 material", map[string]string{"Action": "ImportKeyMaterial", "Format": "JSON", "KeyId": "k", "ImportToken": "t", "EncryptedKeyMaterial": "%%%"}, 400, "InvalidParameter"},
		{"bad EncryptionContext", map[string]string{"Action": "Decrypt", "Format": "JSON", "CiphertextBlob": "AAAA", "EncryptionContext": "[1,2]"}, 400, "InvalidParameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			call(tc.p, "POST", true, nil).expect(t, tc.status, tc.code)
		})
	}
	t.Run("replayed nonce", func(t *testing.T) {
		p := map[string]string{"Action": "ListKeys", "Format": "JSON"}
		c.sign("GET", p)
		c.do(t, "GET", p, true, nil).expect(t, 200, "")
		c.do(t, "GET", p, true, nil).expect(t, 400, "SignatureNonceUsed")
	})
	t.Run("tampered parameter", func(t *testing.T) {
		p := map[string]string{"Action": "DescribeKey", "Format": "JSON", "KeyId": "a"}
		c.sign("GET", p)
		p["KeyId"] = "b"
		c.do(t, "GET", p, true, nil).expect(t, 400, "IncompleteSignature")
	})
	t.Run("parameter given twice", func(t *testing.T) {
		p := map[string]string{"Action": "ListKeys", "Format": "JSON"}
		c.sign("POST", p)
		form := url.Values{}
		for k, v := range p {
			form.Set(k, v)
		}
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/?KeyId=a", strings.NewReader(form.Encode()+"&KeyId=b"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("KeyId in query and body: %d, want 400", resp.StatusCode)
		}
	})
	t.Run("body over 64 KiB", func(t *testing.T) {
		p := map[string]string{"Action": "Encrypt", "Format": "JSON", "KeyId": "k", "Plaintext": strings.Repeat("A", 70<<10)}
		call(p, "POST", false, nil).expect(t, 400, "InvalidParameter")
	})
}
