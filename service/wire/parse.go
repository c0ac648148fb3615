package wire

import (
	"encoding/json"
	"errors"
)

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
