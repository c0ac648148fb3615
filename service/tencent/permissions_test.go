package tencent

import (
	"testing"

	"github.com/keyport-kms/keyport/service"
)

// Every action served, the tag service's included, has a permission: a
// row of service.Permissions that names it in CAM and RAM.
func TestEveryActionHasAPermission(t *testing.T) {
	check := func(name string) {
		p, ok := service.PermissionOf(service.CloudTencent, name)
		if !ok || p.CAM != name || p.RAM == "" {
			t.Errorf("%s: permission %+v, %v", name, p, ok)
		}
	}
	for name := range actions {
		check("kms:" + name)
	}
	for name := range tagActions {
		check("tag:" + name)
	}
}
