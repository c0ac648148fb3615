// Package sign holds the request signatures of both clouds' APIs (Alibaba
// Cloud's RPC v1 and ACS3, Tencent Cloud's TC3), as clients make them and as
// Keyport's dialects check them: pure Go, so that a client links no token
// library and no database driver.
package sign

import (
	"errors"
	"strings"
)

// ErrAuthorization says an Authorization header is not of the expected form.
var ErrAuthorization = errors.New("malformed Authorization header")

// ParseAuthorization reads "SCHEME k1=v1,k2=v2,…" (spaces after commas
// allowed), the form both ACS3 and TC3 use, requiring every name in need.
func ParseAuthorization(header, scheme string, need ...string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(header, scheme+" ")
	if !ok {
		return nil, ErrAuthorization
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, ErrAuthorization
		}
		fields[k] = v
	}
	for _, n := range need {
		if fields[n] == "" {
			return nil, ErrAuthorization
		}
	}
	return fields, nil
}
