package tencent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/service/wire"
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

func parseTC3(header string) (tc3Auth, error) {
	f, err := wire.ParseAuthorization(header, tc3Scheme, "Credential", "SignedHeaders", "Signature")
	if err != nil {
		return tc3Auth{}, err
	}
	scope := strings.Split(f["Credential"], "/")
	if len(scope) != 4 || scope[3] != "tc3_request" || scope[0] == "" || scope[1] == "" || scope[2] == "" {
		return tc3Auth{}, wire.ErrAuthorization
	}
	return tc3Auth{secretID: scope[0], date: scope[1], service: scope[2],
		signedHeaders: strings.Split(f["SignedHeaders"], ";"), signature: f["Signature"]}, nil
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
		// TC3 canonical headers are lower-case names and lower-case,
		// trimmed values (Tencent's guide signs x-tc-action:describeinstances).
		h = strings.ToLower(h)
		v := strings.TrimSpace(r.Header.Get(h))
		if h == "host" {
			v = host
		}
		b.WriteString(h + ":" + strings.ToLower(v) + "\n")
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

// Authorization signs a JSON POST with TC3-HMAC-SHA256 over content-type
// and host, as the official SDKs do and exactly as this dialect verifies
// it: for clients such as `keyport bench` and `keyport import`. r must carry
// its Content-Type, Host and X-TC-Timestamp already; service is the
// endpoint's product ("kms").
func Authorization(secretID, secret, service string, r *http.Request, body []byte) string {
	stamp := r.Header.Get("X-TC-Timestamp")
	sec, _ := strconv.ParseInt(stamp, 10, 64)
	a := tc3Auth{secretID: secretID, date: time.Unix(sec, 0).UTC().Format("2006-01-02"), service: service,
		signedHeaders: []string{"content-type", "host"}}
	a.signature = tc3Signature([]byte(secret), a, tc3StringToSign(r, a, r.Host, stamp, body))
	return tc3Scheme + " Credential=" + secretID + "/" + a.date + "/" + service + "/tc3_request, SignedHeaders=content-type;host, Signature=" + a.signature
}

// signs reports whether the signature covers the header name.
func (a tc3Auth) signs(name string) bool {
	for _, sh := range a.signedHeaders {
		if strings.EqualFold(sh, name) {
			return true
		}
	}
	return false
}
