package tencent

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/wire/wiretest"
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

// TestCodesClosed: every code the dialect can answer is in its closed set,
// so that metrics never label by a code outside it.
func TestCodesClosed(t *testing.T) { wiretest.CodesClosed(t, ".", knownCode) }
