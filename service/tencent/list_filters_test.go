package tencent

import (
	"testing"

	"github.com/keyport-kms/keyport/service"
)

// Every row of ListKeyDetail's filter table: what an omitted parameter
// means is one of its values, every value builds a selector, "ALL" and 0
// keep every key, and a value outside the table is refused with
// InvalidParameter.
func TestDetailFilterTable(t *testing.T) {
	key := &service.KeyMetadata{KeyID: "k", State: service.StateEnabled, Origin: service.OriginKMS}
	for _, f := range detailFilters {
		if _, ok := f.values[f.absent]; !ok {
			t.Errorf("%s: what an omitted value means (%q) is not in the table", f.param, f.absent)
		}
		for v := range f.values {
			k, err := f.selector(requestWith(f.param, v))
			if err != nil || k == nil {
				t.Errorf("%s=%q: %v", f.param, v, err)
				continue
			}
			if (v == "ALL" || v == "0") && !k(key) {
				t.Errorf("%s=%q filters", f.param, v)
			}
		}
		if _, err := f.selector(requestWith(f.param, "9")); err == nil || err.(*apiError).Code != "InvalidParameter" {
			t.Errorf("%s: a value outside the table: %v", f.param, err)
		}
	}
}

// requestWith is a request giving one parameter, numeric or not.
func requestWith(param, v string) *listKeyDetailRequest {
	var r listKeyDetailRequest
	n := uint64(0)
	for _, c := range v {
		if c < '0' || c > '9' {
			n = 1 << 62 // not a number: a value no numeric row has
			break
		}
		n = n*10 + uint64(c-'0')
	}
	switch param {
	case "Role":
		r.Role = &n
	case "KeyState":
		r.KeyState = &n
	case "Origin":
		r.Origin = &v
	case "KeyUsage":
		r.KeyUsage = &v
	default:
		panic("requestWith knows no row " + param)
	}
	return &r
}
