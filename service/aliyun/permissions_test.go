package aliyun

import (
	"testing"

	"github.com/keyport-kms/keyport/service"
)

// Every action served has a permission: a row of service.Permissions that
// names it in RAM and CAM, so that no action is left to the fallback
// refusal, and a policy decides it through either dialect.
func TestEveryActionHasAPermission(t *testing.T) {
	for name := range actions {
		p, ok := service.PermissionOf(service.CloudAliyun, "kms:"+name)
		if !ok || p.RAM != "kms:"+name || p.CAM == "" {
			t.Errorf("%s: permission %+v, %v", name, p, ok)
		}
	}
}
