package service_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/service"
)

// Users are made with no policies, take valid policies only, cannot be
// deleted while they hold access keys unless forced, and their keys go
// with them.
func TestUsers(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	if err := e.svc.CreateUser(ctx, "app-billing"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.CreateUser(ctx, "app-billing"); !errors.Is(err, service.KindUserExists) {
		t.Fatalf("second create: %v", err)
	}
	if err := e.svc.CreateUser(ctx, "no spaces"); !errors.Is(err, service.KindInvalidParameter) {
		t.Fatalf("bad name: %v", err)
	}
	doc := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*","Condition":{"StringEquals":{"kms:tag/app":"billing"}}}]}`
	if err := e.svc.PutUserPolicy(ctx, "app-billing", "crypto", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	err := e.svc.PutUserPolicy(ctx, "app-billing", "broken", []byte("{\"Version\":\"1\",\n\"Statement\":[{\"Effect\":\"Maybe\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"))
	if !errors.Is(err, service.KindInvalidParameter) || !strings.Contains(err.Error(), "Statement[0].Effect") {
		t.Fatalf("broken policy: %v", err)
	}
	if err := e.svc.PutUserPolicy(ctx, "nobody", "crypto", []byte(doc)); !errors.Is(err, service.KindUserNotFound) {
		t.Fatalf("policy for a missing user: %v", err)
	}
	if got, err := e.svc.UserPolicy(ctx, "app-billing", "crypto"); err != nil || got != doc {
		t.Fatalf("policy read back: %q, %v", got, err)
	}
	ak, err := e.svc.CreateUserAccessKey(ctx, "app-billing")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUserAccessKey(ctx, "nobody"); !errors.Is(err, service.KindUserNotFound) {
		t.Fatalf("key for a missing user: %v", err)
	}
	users, err := e.svc.ListUsers(ctx)
	if err != nil || len(users) != 1 || users[0].Policies[0] != "crypto" || len(users[0].AccessKeys) != 1 || users[0].AccessKeys[0] != ak.AccessKeyID {
		t.Fatalf("list: %+v, %v", users, err)
	}
	keys, _ := e.svc.ListAccessKeys(ctx)
	if len(keys) != 1 || keys[0].User != "app-billing" {
		t.Fatalf("access keys: %+v", keys)
	}
	if err := e.svc.DeleteUser(ctx, "app-billing", false); !errors.Is(err, service.KindUserInUse) {
		t.Fatalf("delete with a key: %v", err)
	}
	if err := e.svc.DeleteUserPolicy(ctx, "app-billing", "crypto"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteUser(ctx, "app-billing", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); !errors.Is(err, service.KindUnknownAccessKey) {
		t.Fatalf("the user's key outlived it: %v", err)
	}
	if users, _ := e.svc.ListUsers(ctx); len(users) != 0 {
		t.Fatalf("users left: %+v", users)
	}
}
