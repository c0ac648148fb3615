package service_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store"
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

// Secrets are unsealed once per TTL however many requests ask at once; a
// change made through this service applies at once, one made elsewhere (as
// by another replica, straight in the store) within the TTL.
func TestAccessKeySecretCache(t *testing.T) {
	var tok *countingToken
	e := newEnv(t, func(o *service.Options) {
		tok = &countingToken{HSM: o.Token.(*hsm.HSM)}
		o.Token, o.SecretCacheTTL = tok, time.Minute
	})
	ctx := ctxT(t)
	ak, err := e.svc.CreateAccessKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); err != nil || string(s) != ak.AccessKeySecret {
				t.Errorf("secret: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := tok.opens.Load(); n != 1 {
		t.Fatalf("64 concurrent look-ups unsealed %d times", n)
	}
	if _, err := e.svc.AccessKeySecret(ctx, "KPAKNOSUCH"); !errors.Is(err, service.KindUnknownAccessKey) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := e.st.UpdateAccessKey(ctx, ak.AccessKeyID, func(a *store.AccessKey) error { a.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); err != nil {
		t.Fatalf("within the TTL a change made elsewhere may not show yet: %v", err)
	}
	e.clock.Advance(time.Minute + time.Second)
	if _, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); !errors.Is(err, service.KindAccessKeyDisabled) {
		t.Fatalf("after the TTL: %v", err)
	}
	if err := e.svc.SetAccessKeyDisabled(ctx, ak.AccessKeyID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); err != nil {
		t.Fatalf("re-enabled through the service: %v", err)
	}
	if err := e.svc.DeleteAccessKey(ctx, ak.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AccessKeySecret(ctx, ak.AccessKeyID); !errors.Is(err, service.KindUnknownAccessKey) {
		t.Fatalf("deleted through the service, still answered: %v", err)
	}
}
