package wire

import (
	"encoding/json"
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

// ErrEncryptionContext says an EncryptionContext is not a JSON object of strings.
var ErrEncryptionContext = errors.New("not a JSON object of string values")

// EncryptionContext reads the JSON object of strings both APIs pass as a
// string parameter; empty means none.
func EncryptionContext(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var ec map[string]string
	if err := json.Unmarshal([]byte(s), &ec); err != nil {
		return nil, ErrEncryptionContext
	}
	return ec, nil
}
