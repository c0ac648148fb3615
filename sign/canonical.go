package sign

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// canonicalDigest is the hex SHA-256 of a canonical request as ACS3 and TC3
// both build it: the method, the escaped path ("/" when empty), the
// canonical query, one "name:value" line per signed header, a blank line
// (each header line ends with a newline and the block with one more, as the
// SDKs write it), the signed header names joined by ";", and the hex
// SHA-256 of the body. The schemes differ only in how they canonicalise the
// query and the header values.
func canonicalDigest(r *http.Request, query string, headerLines, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path + "\n")
	b.WriteString(query + "\n")
	for _, l := range headerLines {
		b.WriteString(l + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n")
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	digest := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(digest[:])
}
