package sign

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
)

// PercentEncode is RFC 3986 encoding as both signature schemes use it:
// unreserved characters kept, space as %20, everything else %XX.
func PercentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// CanonicalParams sorts parameters by name and joins pct(k)=pct(v) with &.
// Parameters with several values were refused before this point.
func CanonicalParams(params map[string]string, skip string) string {
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
		b.WriteString(PercentEncode(k))
		b.WriteByte('=')
		b.WriteString(PercentEncode(params[k]))
	}
	return b.String()
}

// RPCStringToSign is signature v1's string to sign: METHOD&%2F&pct(query).
func RPCStringToSign(method string, params map[string]string) string {
	return method + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalParams(params, "Signature"))
}

// RPCSignature is base64(HMAC-SHA1(secret + "&", stringToSign)).
func RPCSignature(secret []byte, stringToSign string) string {
	key := append(append([]byte{}, secret...), '&')
	defer clear(key)
	m := hmac.New(sha1.New, key)
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ACS3 is a parsed "ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…".
type ACS3 struct {
	Credential    string
	SignedHeaders []string
	Signature     string
}

const ACS3Scheme = "ACS3-HMAC-SHA256"

// ParseACS3 reads an ACS3 Authorization header.
func ParseACS3(header string) (ACS3, error) {
	f, err := ParseAuthorization(header, ACS3Scheme, "Credential", "SignedHeaders", "Signature")
	if err != nil {
		return ACS3{}, err
	}
	return ACS3{Credential: f["Credential"], SignedHeaders: strings.Split(f["SignedHeaders"], ";"), Signature: f["Signature"]}, nil
}

// ACS3StringToSign builds the canonical request from what was received and
// hashes it: method, path, canonical query, the signed headers (lower-case
// names, trimmed values, several values sorted and joined by commas), a
// blank line, the signed header list and the hex SHA-256 of the body.
func ACS3StringToSign(r *http.Request, query map[string]string, signed []string, body []byte) string {
	lines := make([]string, len(signed))
	for i, h := range signed {
		var vals []string
		if h == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(h) {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		sort.Strings(vals)
		lines[i] = h + ":" + strings.Join(vals, ",")
	}
	return ACS3Scheme + "\n" + canonicalDigest(r, CanonicalParams(query, ""), lines, signed, body)
}

// ACS3Signature is hex(HMAC-SHA256(secret, stringToSign)).
func ACS3Signature(secret []byte, stringToSign string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// RPC signs params (Signature itself left out) for method with RPC
// signature v1, exactly as the Alibaba Cloud dialect verifies it: for
// clients such as `keyport bench` and `keyport import`.
func RPC(method, secret string, params map[string]string) string {
	return RPCSignature([]byte(secret), RPCStringToSign(method, params))
}
