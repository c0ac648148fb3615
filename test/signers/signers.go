// Package signers signs requests the way the clouds' published algorithms
// say, written apart from Keyport's own verifiers so that tests can check one
// against the other and send what the official SDKs never do.
package signers

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"sort"
	"strings"
)

// RPC returns the Alibaba Cloud RPC v1 signature of params (Signature
// itself left out) for method.
func RPC(method, secret string, params map[string]string) string {
	pct := func(s string) string {
		return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, pct(k)+"="+pct(params[k]))
	}
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(method + "&%2F&" + pct(strings.Join(pairs, "&"))))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// TC3 returns the Tencent Cloud TC3-HMAC-SHA256 Authorization header of a
// JSON POST to / signing content-type and host, as the official SDKs do.
func TC3(secretID, secret, service, host, timestamp, date, body string) string {
	return TC3Signing(secretID, secret, service, host, timestamp, date, body, nil)
}

// TC3Signing is TC3 signing more headers besides content-type and host
// (lower-case names, sorted), as a careful client may.
func TC3Signing(secretID, secret, service, host, timestamp, date, body string, more map[string]string) string {
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	headers := map[string]string{"content-type": "application/json", "host": host}
	for k, v := range more {
		headers[k] = v
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, k := range names {
		canon.WriteString(k + ":" + headers[k] + "\n")
	}
	signed := strings.Join(names, ";")
	cr := "POST\n/\n\n" + canon.String() + "\n" + signed + "\n" + h(body)
	scope := date + "/" + service + "/tc3_request"
	sts := "TC3-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + h(cr)
	k := mac(mac(mac([]byte("TC3"+secret), date), service), "tc3_request")
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=" + signed + ", Signature=" + hex.EncodeToString(mac(k, sts))
}
