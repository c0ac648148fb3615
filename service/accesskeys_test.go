package service_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyport-kms/keyport/service"
)

func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	ak, err := e.svc.CreateAccessKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ak.AccessKeyID) != 24 || len(ak.AccessKeySecret) != 30 {
		t.Fatalf("%+v", ak)
	}
	secret, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID)
	if err != nil || string(secret) != ak.AccessKeySecret {
		t.Fatalf("secret: %v", err)
	}
	if err := e.svc.SetAccessKeyDisabled(ctx, ak.AccessKeyID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); !errors.Is(err, service.KindAccessKeyDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	keys, _ := e.svc.ListAccessKeys(ctx)
	if len(keys) != 1 || !keys[0].Disabled {
		t.Fatalf("%+v", keys)
	}
	if err := e.svc.DeleteAccessKey(ctx, ak.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{ak.AccessKeyID, "", "x"} {
		if _, err := e.svc.AccessKeySecret(ctx, id); !errors.Is(err, service.KindUnknownAccessKey) {
			t.Fatalf("%q: %v", id, err)
		}
	}
	kept, err := e.svc.CreateAccessKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.close()
	db, _ := os.ReadFile(filepath.Join(e.dir, "keyport.db"))
	if !bytes.Contains(db, []byte(kept.AccessKeyID)) || bytes.Contains(db, []byte(kept.AccessKeySecret)) {
		t.Fatal("the store holds an access key secret in the clear")
	}
}
