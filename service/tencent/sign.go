package tencent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"sort"
	"strings"
)

const tc3Scheme = "TC3-HMAC-SHA256"

// tc3Auth is a parsed "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
// SignedHeaders=…, Signature=…".
type tc3Auth struct {
	secretID      string
	date, service string // from the credential scope, as the client signed them
	signedHeaders []string
	signature     string
}

var errAuthorization = errors.New("malformed Authorization header")

func parseTC3(header string) (tc3Auth, error) {
	var a tc3Auth
	rest, ok := strings.CutPrefix(header, tc3Scheme+" ")
	if !ok {
		return a, errAuthorization
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, errAuthorization
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 4 || f[3] != "tc3_request" || f[0] == "" || f[1] == "" || f[2] == "" {
				return a, errAuthorization
			}
			a.secretID, a.date, a.service = f[0], f[1], f[2]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.secretID == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return a, errAuthorization
	}
	return a, nil
}

// tc3StringToSign rebuilds the canonical request (method, path, query,
// signed headers with trimmed values, a blank line, the header list, the
// body's SHA-256) with host as given, and the string to sign.
func tc3StringToSign(r *http.Request, a tc3Auth, host, timestamp string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path + "\n")
	b.WriteString(canonicalQuery(r) + "\n")
	for _, h := range a.signedHeaders {
		h = strings.ToLower(h)
		v := strings.TrimSpace(r.Header.Get(h))
		if h == "host" {
			v = host
		}
		b.WriteString(h + ":" + v + "\n")
	}
	b.WriteString("\n" + strings.Join(a.signedHeaders, ";") + "\n")
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	digest := sha256.Sum256([]byte(b.String()))
	return tc3Scheme + "\n" + timestamp + "\n" + a.date + "/" + a.service + "/tc3_request\n" + hex.EncodeToString(digest[:])
}

// canonicalQuery is the raw query's pairs sorted (POST requests have none).
func canonicalQuery(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	pairs := strings.Split(r.URL.RawQuery, "&")
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// tc3Signature derives the signing key from the secret through the date and
// service of the credential scope, and signs.
func tc3Signature(secret []byte, a tc3Auth, stringToSign string) string {
	k := append([]byte("TC3"), secret...)
	defer clear(k)
	date := hmacSHA256(k, a.date)
	svc := hmacSHA256(date, a.service)
	signing := hmacSHA256(svc, "tc3_request")
	return hex.EncodeToString(hmacSHA256(signing, stringToSign))
}
