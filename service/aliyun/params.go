package aliyun

import (
	"encoding/base64"
	"strconv"

	"github.com/keyport-kms/keyport/service/wire"
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

// encryptionContext reads an optional JSON object of strings: the
// parameter name (EncryptionContext, or ReEncrypt's Source… and
// Destination…).
func (p params) encryptionContext(name string) (map[string]string, error) {
	ec, err := wire.EncryptionContext(p[name])
	if err != nil {
		return nil, invalidParameter(name, err.Error())
	}
	return ec, nil
}

// page reads PageNumber (from 1; 1 by default) and PageSize (1 to 100; 10
// by default), as every List action takes them.
func (p params) page() (number, size int, err error) {
	if number, err = p.integer("PageNumber"); err != nil {
		return 0, 0, err
	}
	if size, err = p.integer("PageSize"); err != nil {
		return 0, 0, err
	}
	if number == 0 {
		number = 1
	}
	if size == 0 {
		size = 10
	}
	if number < 1 {
		return 0, 0, invalidParameter("PageNumber", "1 or more")
	}
	if size < 1 || size > 100 {
		return 0, 0, invalidParameter("PageSize", "from 1 to 100")
	}
	return number, size, nil
}

// onPage is the page of items that number and size select.
func onPage[T any](items []T, number, size int) []T {
	from := min((number-1)*size, len(items))
	return items[from:min(from+size, len(items))]
}
