package aliyun

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/service"
)

func TestEveryKindMapped(t *testing.T) {
	for _, k := range service.Kinds() {
		c, ok := kindCodes[k]
		if !ok || c.code == "" || c.status < 400 {
			t.Errorf("%v (%d) has no Alibaba Cloud code and status", k, k)
		}
	}
}

func TestInternalErrorsHideTheirCause(t *testing.T) {
	ae := toAPIError(errors.New("store: disk on fire at /var/lib/keyport"))
	if ae.Status != 500 || ae.Code != "InternalFailure" || ae.Message == "" {
		t.Fatalf("%+v", ae)
	}
	for _, s := range []string{"disk", "/var/lib"} {
		if strings.Contains(ae.Message, s) {
			t.Fatalf("internal detail %q sent to the caller: %s", s, ae.Message)
		}
	}
}
