package aliyun

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// params are a request's parameters, each given once.
type params map[string]string

func (p params) required(name string) (string, error) {
	v := p[name]
	if v == "" {
		return "", missingParameter(name)
	}
	return v, nil
}

// integer reads an optional integer; absent is 0.
func (p params) integer(name string) (int, error) {
	v := p[name]
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidParameter(name, "not an integer")
	}
	return n, nil
}

// base64 reads a required base64 parameter.
func (p params) base64(name string) ([]byte, error) {
	v, err := p.required(name)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, invalidParameter(name, "not valid base64")
	}
	return b, nil
}

// encryptionContext reads an optional JSON object of strings.
func (p params) encryptionContext() (map[string]string, error) {
	v := p["EncryptionContext"]
	if v == "" {
		return nil, nil
	}
	var ec map[string]string
	if err := json.Unmarshal([]byte(v), &ec); err != nil {
		return nil, invalidParameter("EncryptionContext", "not a JSON object of string values")
	}
	return ec, nil
}
