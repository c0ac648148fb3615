package aliyun

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/keyport-kms/keyport/service/wire"
)

// percentEncode is RFC 3986 encoding as both signature schemes use it:
// unreserved characters kept, space as %20, everything else %XX.
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// canonicalQuery sorts parameters by name and joins pct(k)=pct(v) with &.
// Parameters with several values were refused before this point.
func canonicalQuery(params map[string]string, skip string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(percentEncode(k))
		b.WriteByte('=')
		b.WriteString(percentEncode(params[k]))
	}
	return b.String()
}

// rpcStringToSign is signature v1's string to sign: METHOD&%2F&pct(query).
func rpcStringToSign(method string, params map[string]string) string {
	return method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(params, "Signature"))
}

// rpcSignature is base64(HMAC-SHA1(secret + "&", stringToSign)).
func rpcSignature(secret []byte, stringToSign string) string {
	key := append(append([]byte{}, secret...), '&')
	defer clear(key)
	m := hmac.New(sha1.New, key)
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// acs3Auth is a parsed "ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…".
type acs3Auth struct {
	credential    string
	signedHeaders []string
	signature     string
}

const acs3Scheme = "ACS3-HMAC-SHA256"

func parseACS3(header string) (acs3Auth, error) {
	f, err := wire.ParseAuthorization(header, acs3Scheme, "Credential", "SignedHeaders", "Signature")
	if err != nil {
		return acs3Auth{}, err
	}
	return acs3Auth{credential: f["Credential"], signedHeaders: strings.Split(f["SignedHeaders"], ";"), signature: f["Signature"]}, nil
}

// acs3StringToSign builds the canonical request from what was received and
// hashes it: method, path, canonical query, the signed headers (lower-case
// names, trimmed values, several values sorted and joined by commas), a
// blank line, the signed header list and the hex SHA-256 of the body.
func acs3StringToSign(r *http.Request, query map[string]string, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path + "\n")
	b.WriteString(canonicalQuery(query, "") + "\n")
	for _, h := range signed {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(h) {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		sort.Strings(vals)
		b.WriteString(h + ":" + strings.Join(vals, ",") + "\n")
	}
	// Each canonical header ends with \n, and the header block is followed
	// by \n too: the SDKs' canonical request has a blank line here.
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	digest := sha256.Sum256([]byte(b.String()))
	return acs3Scheme + "\n" + hex.EncodeToString(digest[:])
}

// acs3Signature is hex(HMAC-SHA256(secret, stringToSign)).
func acs3Signature(secret []byte, stringToSign string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// SignRPC signs params (Signature itself left out) for method with RPC
// signature v1, exactly as this dialect verifies it: for clients such as
// `keyport bench` and `keyport import`.
func SignRPC(method, secret string, params map[string]string) string {
	return rpcSignature([]byte(secret), rpcStringToSign(method, params))
}
