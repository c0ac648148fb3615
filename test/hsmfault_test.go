package test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/aliyun"
	kpserver "github.com/keyport-kms/keyport/service/server"
	"github.com/keyport-kms/keyport/service/store"
	"github.com/keyport-kms/keyport/service/tencent"
	"github.com/keyport-kms/keyport/softhsm"
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

func (d *downToken) Seal(ctx context.Context, id hsm.KeyID, pt, aad []byte) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.HSM.Seal(ctx, id, pt, aad)
}

func (d *downToken) Open(ctx context.Context, id hsm.KeyID, sealed, aad []byte) ([]byte, error) {
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
	tok := softhsm.New(t)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := must(hsm.Open(ctx, hsm.Config{Module: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN, Logger: quiet}))
	defer h.Close()
	st := must(store.CreateBolt(t.TempDir()))
	defer st.Close()
	d := &downToken{HSM: h}
	svc := must(service.New(ctx, service.Options{Token: d, Store: st, PoolRSA: 1, PoolSM2: 1, CollectEvery: -1, Logger: quiet}))
	defer svc.Close()
	ak := must(svc.CreateAccessKey(ctx))
	keyID := must(svc.CreateKey(ctx, service.CreateKeyRequest{})).KeyID
	ts := httptest.NewServer(kpserver.Handler(kpserver.Config{
		Service: svc,
		Aliyun:  aliyun.New(aliyun.Config{Service: svc, Logger: quiet}),
		Tencent: tencent.New(tencent.Config{Service: svc, Logger: quiet}),
	}))
	defer ts.Close()
	s := &server{addr: strings.TrimPrefix(ts.URL, "http://"), ak: ak.AccessKeyID, sk: ak.AccessKeySecret}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(ts.URL + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
	}
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
	resp := must(http.Get(ts.URL + "/readyz"))
	var ready map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
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
