package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const TC3Scheme = "TC3-HMAC-SHA256"

// TC3 is a parsed "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request,
// SignedHeaders=…, Signature=…".
type TC3 struct {
	SecretID      string
	Date, Service string // from the credential scope, as the client signed them
	SignedHeaders []string
	Signature     string
}

// ParseTC3 reads a TC3 Authorization header.
func ParseTC3(header string) (TC3, error) {
	f, err := ParseAuthorization(header, TC3Scheme, "Credential", "SignedHeaders", "Signature")
	if err != nil {
		return TC3{}, err
	}
	scope := strings.Split(f["Credential"], "/")
	if len(scope) != 4 || scope[3] != "tc3_request" || scope[0] == "" || scope[1] == "" || scope[2] == "" {
		return TC3{}, ErrAuthorization
	}
	return TC3{SecretID: scope[0], Date: scope[1], Service: scope[2],
		SignedHeaders: strings.Split(f["SignedHeaders"], ";"), Signature: f["Signature"]}, nil
}

// TC3StringToSign rebuilds the canonical request (method, path, query,
// signed headers with trimmed values, a blank line, the header list, the
// body's SHA-256) with host as given, and the string to sign.
func TC3StringToSign(r *http.Request, a TC3, host, timestamp string, body []byte) string {
	lines := make([]string, len(a.SignedHeaders))
	for i, h := range a.SignedHeaders {
		// TC3 canonical headers are lower-case names and lower-case,
		// trimmed values (Tencent's guide signs x-tc-action:describeinstances).
		h = strings.ToLower(h)
		v := strings.TrimSpace(r.Header.Get(h))
		if h == "host" {
			v = host
		}
		lines[i] = h + ":" + strings.ToLower(v)
	}
	digest := canonicalDigest(r, rawQuery(r), lines, a.SignedHeaders, body)
	return TC3Scheme + "\n" + timestamp + "\n" + a.Date + "/" + a.Service + "/tc3_request\n" + digest
}

// rawQuery is the raw query's pairs sorted (POST requests have none).
func rawQuery(r *http.Request) string {
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

// TC3Signature derives the signing key from the secret through the date and
// service of the credential scope, and signs.
func TC3Signature(secret []byte, a TC3, stringToSign string) string {
	k := append([]byte("TC3"), secret...)
	defer clear(k)
	date := hmacSHA256(k, a.Date)
	svc := hmacSHA256(date, a.Service)
	signing := hmacSHA256(svc, "tc3_request")
	return hex.EncodeToString(hmacSHA256(signing, stringToSign))
}

// TC3Authorization signs a JSON POST with TC3-HMAC-SHA256 over content-type
// and host, as the official SDKs do and exactly as the Tencent Cloud dialect verifies
// it: for clients such as `keyport bench` and `keyport import`. r must carry
// its Content-Type, Host and X-TC-Timestamp already; service is the
// endpoint's product ("kms").
func TC3Authorization(secretID, secret, service string, r *http.Request, body []byte) string {
	stamp := r.Header.Get("X-TC-Timestamp")
	sec, _ := strconv.ParseInt(stamp, 10, 64)
	a := TC3{SecretID: secretID, Date: time.Unix(sec, 0).UTC().Format("2006-01-02"), Service: service,
		SignedHeaders: []string{"content-type", "host"}}
	a.Signature = TC3Signature([]byte(secret), a, TC3StringToSign(r, a, r.Host, stamp, body))
	return TC3Scheme + " Credential=" + secretID + "/" + a.Date + "/" + service + "/tc3_request, SignedHeaders=content-type;host, Signature=" + a.Signature
}

// Signs reports whether the signature covers the header name.
func (a TC3) Signs(name string) bool {
	for _, sh := range a.SignedHeaders {
		if strings.EqualFold(sh, name) {
			return true
		}
	}
	return false
}
