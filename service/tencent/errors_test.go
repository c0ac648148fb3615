package tencent

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/service"
)

func TestEveryKindMapped(t *testing.T) {
	for _, k := range service.Kinds() {
		if kindCodes[k] == "" {
			t.Errorf("%v (%d) has no Tencent Cloud code", k, k)
		}
	}
}

func TestInternalErrorsHideTheirCause(t *testing.T) {
	ae := toAPIError(errors.New("store: disk on fire at /var/lib/keyport"))
	if ae.Code != "InternalError" || strings.Contains(ae.Message, "/var/lib") {
		t.Fatalf("%+v", ae)
	}
}
