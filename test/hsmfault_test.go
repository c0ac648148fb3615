package test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
)

// downToken is a real SoftHSM token that can be made to answer as a token
// that went away does: every call ErrUnavailable. (The HSM layer's own
// tests take real tokens away; this one checks what API callers then see.)
type downToken struct {
	*hsm.HSM
	down atomic.Bool
}

func (d *downToken) check() error {
	if d.down.Load() {
		return hsm.ErrUnavailable
	}
	return nil
}

func (d *downToken) Seal(ctx context.Context, id hsm.SealKey, pt, aad []byte) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.HSM.Seal(ctx, id, pt, aad)
}

func (d *downToken) Open(ctx context.Context, id hsm.SealKey, sealed, aad []byte) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.HSM.Open(ctx, id, sealed, aad)
}

func (d *downToken) MAC(ctx context.Context, id hsm.KeyID, data []byte) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.HSM.MAC(ctx, id, data)
}

func (d *downToken) Ping(ctx context.Context) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.HSM.Ping(ctx)
}

// While the HSM is away, both dialects answer with their 503-class error
// and /readyz with 503; when it is back, the same requests succeed.
func TestHSMAwayIsServiceUnavailable(t *testing.T) {
	defer catch(t)
	var d *downToken
	ip := newInProcess(t, func(h *hsm.HSM) hsm.Token { d = &downToken{HSM: h}; return d }, nil, nil)
	s := ip.server
	keyID := must(ip.svc.CreateKey(context.Background(), service.CreateKeyRequest{})).KeyID
	ts := struct{ URL string }{"http://" + s.addr}
	ali := newV1(t, s, s.sk)
	tc := newTencent(t, s, s.sk)
	aliEncrypt := func() error {
		enc := kms.CreateEncryptRequest()
		ali.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = keyID, "eA=="
		_, err := ali.c.Encrypt(enc)
		return err
	}
	tcEncrypt := func() error {
		enc := tckms.NewEncryptRequest()
		enc.KeyId, enc.Plaintext = &keyID, new(string)
		*enc.Plaintext = "eA=="
		_, err := tc.Encrypt(enc)
		return err
	}
	if err := aliEncrypt(); err != nil {
		t.Fatal(err)
	}

	d.down.Store(true)
	serverError(t, aliEncrypt(), 503, "ServiceUnavailableTemporary")
	tcError(t, tcEncrypt(), "UnsupportedOperation.ServiceTemporaryUnavailable")
	// /readyz shows state at most service.HealthMaxAge old.
	var resp *http.Response
	var ready map[string]string
	for deadline := time.Now().Add(service.HealthMaxAge + time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp = must(http.Get(ts.URL + "/readyz"))
		ready = nil
		_ = json.NewDecoder(resp.Body).Decode(&ready)
		resp.Body.Close()
		if resp.StatusCode != 200 || time.Now().After(deadline) {
			break
		}
	}
	if resp.StatusCode != 503 || ready["status"] != "not ready" || ready["reason"] == "" {
		t.Fatalf("/readyz while the HSM is away: %d %v", resp.StatusCode, ready)
	}
	if resp := must(http.Get(ts.URL + "/healthz")); resp.StatusCode != 200 {
		t.Fatalf("/healthz while the HSM is away: %d (the process is alive)", resp.StatusCode)
	}

	d.down.Store(false)
	if err := aliEncrypt(); err != nil {
		t.Fatalf("Aliyun after the HSM came back: %v", err)
	}
	if err := tcEncrypt(); err != nil {
		t.Fatalf("Tencent after the HSM came back: %v", err)
	}
}

// While the HSM is away, requests fail with the dialect's 503-class error,
// and those failures are the server's, not the caller's: they never count
// as failed authentications, so the caller's address is not refused once
// the HSM is back.
func TestHSMAwayIsNotAnAuthFailure(t *testing.T) {
	defer catch(t)
	var d *downToken
	ip := newInProcess(t, func(h *hsm.HSM) hsm.Token { d = &downToken{HSM: h}; return d },
		func(o *service.Options) { o.SecretCacheTTL = time.Millisecond }, nil) // every request unseals the secret
	keyID := must(ip.svc.CreateKey(context.Background(), service.CreateKeyRequest{})).KeyID
	ali := newV1(t, ip.server, ip.sk)
	encrypt := func() error {
		enc := kms.CreateEncryptRequest()
		ali.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = keyID, "eA=="
		_, err := ali.c.Encrypt(enc)
		return err
	}
	d.down.Store(true)
	for i := 0; i < 50; i++ { // far past the failure budget of 20
		time.Sleep(2 * time.Millisecond)
		serverError(t, encrypt(), 503, "ServiceUnavailableTemporary")
	}
	d.down.Store(false)
	if err := encrypt(); err != nil {
		t.Fatalf("after the HSM came back, the caller is refused: %v", err)
	}
}
