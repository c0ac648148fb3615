package aliyun

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/wire/wiretest"
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

// TestCodesClosed: every code the dialect can answer is in its closed set,
// so that metrics never label by a code outside it.
func TestCodesClosed(t *testing.T) { wiretest.CodesClosed(t, ".", knownCode) }
