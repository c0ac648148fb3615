package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/keyport-kms/keyport/sign"
)

const secret = "client-test-secret"

// verifier answers like a dialect: it checks the signature the way the
// server does (with sign's verifying half), then answers ok or an error.
func verifier(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ok bool
		if r.Header.Get("X-TC-Action") != "" {
			a, err := sign.ParseTC3(r.Header.Get("Authorization"))
			ok = err == nil && sign.TC3Signature([]byte(secret), a,
				sign.TC3StringToSign(r, a, r.Host, r.Header.Get("X-TC-Timestamp"), body)) == a.Signature
			w.Header().Set("Content-Type", "application/json")
			if !ok {
				_, _ = io.WriteString(w, `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r1"}}`)
				return
			}
			_, _ = io.WriteString(w, `{"Response":{"KeyMetadata":{"KeyState":"Enabled"},"RequestId":"r2"}}`)
			return
		}
		form, _ := url.ParseQuery(string(body))
		p := map[string]string{}
		for k := range form {
			p[k] = form.Get(k)
		}
		if sign.RPCSignature([]byte(secret), sign.RPCStringToSign(r.Method, p)) != p["Signature"] {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"Code":"IncompleteSignature","Message":"bad","RequestId":"r3"}`)
			return
		}
		_, _ = io.WriteString(w, `{"KeyMetadata":{"KeyState":"Enabled"},"RequestId":"r4"}`)
	}))
}

// Both dialects' requests verify as the server verifies them, and a wrong
// secret is told apart, with the server's code and request id.
func TestSignedRequests(t *testing.T) {
	srv := verifier(t)
	defer srv.Close()
	ctx := context.Background()
	for _, d := range []Dialect{Aliyun, Tencent} {
		c, err := New(Config{Endpoint: srv.URL, Dialect: d, AccessKeyID: "ak", Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		if st, err := c.KeyState(ctx, "k"); err != nil || st != "Enabled" {
			t.Errorf("%s: %q, %v", d, st, err)
		}
		bad, _ := New(Config{Endpoint: srv.URL, Dialect: d, AccessKeyID: "ak", Secret: "wrong"})
		_, err = bad.KeyState(ctx, "k")
		var ae *APIError
		if !errors.As(err, &ae) || ae.RequestID == "" || (ae.Code != "IncompleteSignature" && ae.Code != "AuthFailure.SignatureFailure") {
			t.Errorf("%s with a wrong secret: %v", d, err)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no secret":   {Endpoint: "localhost", Dialect: Aliyun, AccessKeyID: "ak"},
		"bad scheme":  {Endpoint: "ftp://x", Dialect: Aliyun, AccessKeyID: "ak", Secret: "s"},
		"bad dialect": {Endpoint: "localhost", Dialect: "aws", AccessKeyID: "ak", Secret: "s"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
