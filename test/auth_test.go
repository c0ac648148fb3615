package test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/aliyun"
	kpserver "github.com/keyport-kms/keyport/service/server"
	"github.com/keyport-kms/keyport/service/tencent"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/softhsm"
	"github.com/keyport-kms/keyport/store/bolt"
	"github.com/keyport-kms/keyport/test/signers"
)

// inProcess is the service and both dialects on a real SoftHSM token,
// served over HTTP on loopback in this process, so a test can hold the
// token (to count or fail its calls) and the dialects' state.
type inProcess struct {
	*server
	svc *service.Service
}

// newInProcess serves a token wrapped by wrap (nil: as it is); configure
// may set the dialects' limits and tables.
func newInProcess(t *testing.T, wrap func(*hsm.HSM) hsm.Token, opt func(*service.Options), configure func(*aliyun.Config, *tencent.Config)) *inProcess {
	t.Helper()
	tok := softhsm.New(t)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := must(hsm.Open(ctx, hsm.Config{Module: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN, Logger: quiet}))
	t.Cleanup(h.Close)
	st := must(bolt.Create(t.TempDir()))
	t.Cleanup(func() { st.Close() })
	var token hsm.Token = h
	if wrap != nil {
		token = wrap(h)
	}
	o := service.Options{Token: token, Store: st, PoolRSA: 1, PoolSM2: 1, PoolRSALarge: -1, CollectEvery: -1, Logger: quiet}
	if opt != nil {
		opt(&o)
	}
	svc := must(service.New(ctx, o))
	t.Cleanup(svc.Close)
	ak := must(svc.CreateAccessKey(ctx))
	ac, tc := aliyun.Config{Service: svc, Common: wire.Common{Logger: quiet}}, tencent.Config{Service: svc, Common: wire.Common{Logger: quiet}}
	if configure != nil {
		configure(&ac, &tc)
	}
	ts := httptest.NewUnstartedServer(kpserver.Handler(kpserver.Config{Service: svc, Aliyun: aliyun.New(ac), Tencent: tencent.New(tc)}))
	ts.Start()
	t.Cleanup(ts.Close)
	s := &server{addr: strings.TrimPrefix(ts.URL, "http://"), ak: ak.AccessKeyID, sk: ak.AccessKeySecret, tok: tok}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(ts.URL + "/readyz"); err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
	}
	return &inProcess{server: s, svc: svc}
}

// openCounter is the real token, counting the unseals asked of it.
type openCounter struct {
	*hsm.HSM
	opens atomic.Int64
}

func (o *openCounter) Open(ctx context.Context, id hsm.SealKey, sealed, aad []byte) ([]byte, error) {
	o.opens.Add(1)
	return o.HSM.Open(ctx, id, sealed, aad)
}

// clientFrom is an HTTP client whose connections leave from ip (any
// 127.0.0.0/8 address is on the loopback interface).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16}}
}

// errorCode reads the error code of either dialect's answer.
func errorCode(body []byte) string {
	var out struct {
		Code     string
		Response struct{ Error struct{ Code string } }
	}
	_ = json.Unmarshal(body, &out)
	return out.Code + out.Response.Error.Code
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}

// A flood of forged signatures for a real AccessKeyId, in both dialects,
// makes the HSM unseal nothing beyond the one unseal the secret cache makes
// per TTL, is soon refused by address before any work, and does not slow
// the owner's signed traffic from another address.
func TestForgedSignatureFlood(t *testing.T) {
	defer catch(t)
	var counter *openCounter
	s := newInProcess(t, func(h *hsm.HSM) hsm.Token { counter = &openCounter{HSM: h}; return counter },
		func(o *service.Options) { o.SecretCacheTTL = 10 * time.Minute },
		func(a *aliyun.Config, tc *tencent.Config) {
			a.Limiter = wire.NewLimiter(100_000, time.Now)
			tc.Limiter = a.Limiter
		})
	keyID := must(s.svc.CreateKey(context.Background(), service.CreateKeyRequest{})).KeyID
	c := newV1(t, s.server, s.sk)
	legit := func(n int) []time.Duration {
		var out []time.Duration
		for i := 0; i < n; i++ {
			enc := kms.CreateEncryptRequest()
			c.prep(enc.RpcRequest)
			enc.KeyId, enc.Plaintext = keyID, "eA=="
			t0 := time.Now()
			must(c.c.Encrypt(enc))
			out = append(out, time.Since(t0))
		}
		return out
	}
	quiet := legit(200)
	opens := counter.opens.Load() // the secret, and the key's material per Encrypt

	attacker := clientFrom("127.0.0.2")
	forged := func(i int) string {
		if i%2 == 0 {
			p := map[string]string{"Action": "ListKeys", "Format": "JSON", "Version": "2016-01-20", "AccessKeyId": s.ak,
				"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": fmt.Sprint("forged-", i),
				"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z")}
			p["Signature"] = signers.RPC("POST", "not-the-secret", p)
			v := url.Values{}
			for k, val := range p {
				v.Set(k, val)
			}
			resp, err := attacker.Post("http://"+s.addr+"/", "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
			if err != nil {
				return err.Error()
			}
			defer resp.Body.Close()
			return errorCode(must(io.ReadAll(resp.Body)))
		}
		now := time.Now()
		stamp := strconv.FormatInt(now.Unix(), 10)
		body := `{"Limit":10}`
		req := must(http.NewRequest("POST", "http://"+s.addr+"/", strings.NewReader(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-TC-Action", "ListKeys")
		req.Header.Set("X-TC-Version", "2019-01-18")
		req.Header.Set("X-TC-Timestamp", stamp)
		req.Header.Set("Authorization", signers.TC3(s.ak, "not-the-secret", "kms", s.addr, stamp, now.UTC().Format("2006-01-02"), body))
		resp, err := attacker.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		return errorCode(must(io.ReadAll(resp.Body)))
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; !stop.Load(); i += 4 {
				code := forged(i)
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	busy := legit(200)
	stop.Store(true)
	wg.Wait()

	sent := 0
	for _, n := range codes {
		sent += n
	}
	t.Logf("forged requests: %d, answers %v; owner's Encrypt p50 %v quiet, %v under the flood (ratio %.2f); HSM unseals during the flood beyond the owner's own: %d",
		sent, codes, median(quiet), median(busy), float64(median(busy))/float64(median(quiet)), counter.opens.Load()-opens-200)
	for code := range codes {
		switch code {
		case "IncompleteSignature", "Throttling", "AuthFailure.SignatureFailure", "RequestLimitExceeded":
		default:
			t.Errorf("a forged request was answered %q", code)
		}
	}
	if codes["Throttling"]+codes["RequestLimitExceeded"] == 0 || sent < 100 {
		t.Fatalf("the flood (%d requests) was never refused by address: %v", sent, codes)
	}
	// Each of the owner's 200 Encrypts unseals the key's material once; the
	// flood adds no unseal at all (the secret is cached).
	if extra := counter.opens.Load() - opens - 200; extra != 0 {
		t.Fatalf("the flood made the HSM unseal %d times", extra)
	}
	if ratio := float64(median(busy)) / float64(median(quiet)); ratio > 5 {
		t.Fatalf("the owner's p50 grew %.1f× under the flood", ratio)
	}
}

// The rate limit applies before a nonce is remembered, and nonces are
// capped in length, so neither a throttled client nor one sending huge
// nonces grows the nonce table.
func TestNoncesAfterThrottling(t *testing.T) {
	defer catch(t)
	replays := wire.NewReplays(15*time.Minute, 1000, time.Now)
	s := newInProcess(t, nil, nil, func(a *aliyun.Config, _ *tencent.Config) {
		a.Limiter = wire.NewLimiter(5, time.Now)
		a.Replays = replays
	})
	raw := rawV1{addr: s.addr, ak: s.ak, sk: s.sk}
	var throttled []map[string]string
	ok := 0
	for i := 0; i < 20; i++ {
		p := map[string]string{"Action": "ListKeys", "Format": "JSON", "SignatureNonce": fmt.Sprint("n-", i)}
		raw.sign("POST", p)
		switch r := raw.do(t, "POST", p, false, nil); {
		case r.status == 200:
			ok++
		case r.status == 400 && r.body["Code"] == "Throttling":
			throttled = append(throttled, p)
		default:
			t.Fatalf("request %d: %d %v", i, r.status, r.body)
		}
	}
	if ok == 0 || len(throttled) == 0 || replays.Len(s.ak) != ok {
		t.Fatalf("%d accepted, %d throttled, %d nonces remembered", ok, len(throttled), replays.Len(s.ak))
	}
	time.Sleep(1100 * time.Millisecond) // the bucket refills
	r := raw.do(t, "POST", throttled[0], false, nil)
	if r.status != 200 {
		t.Fatalf("a throttled request's nonce was remembered: resent, it got %d %v", r.status, r.body)
	}
	for i := 0; i < 50; i++ {
		p := map[string]string{"Action": "ListKeys", "Format": "JSON", "SignatureNonce": strings.Repeat("n", 60<<10-i)}
		raw.sign("POST", p)
		// Refused as invalid, and once the address has spent its budget of
		// failures, refused unread.
		if r := raw.do(t, "POST", p, false, nil); r.status != 400 || (r.body["Code"] != "InvalidParameter" && r.body["Code"] != "Throttling") {
			t.Fatalf("a long nonce: %d %v", r.status, r.body)
		}
	}
	if n := replays.Len(s.ak); n != ok+1 {
		t.Fatalf("%d nonces remembered after refused long ones, want %d", n, ok+1)
	}
}

// The official Tencent SDK signs only content-type and host, so its
// signature does not cover X-TC-Action. By default Keyport accepts such a
// signature for any action, as Tencent Cloud does (a capture is prevented
// by TLS, not by the signature). With --tencent-strict-signatures a
// request must sign x-tc-action: the SDK's own request is refused, one
// that signs it is accepted, and changing its action breaks the signature.
func TestTencentSignatureModes(t *testing.T) {
	defer catch(t)
	for _, strict := range []bool{false, true} {
		t.Run(map[bool]string{false: "compatible", true: "strict"}[strict], func(t *testing.T) {
			defer catch(t)
			var s *server
			if strict {
				s = startServer(t, "--tencent-strict-signatures")
			} else {
				s = startServer(t)
			}
			var captured struct {
				sync.Mutex
				req  *http.Request
				body []byte
			}
			c := newTencent(t, s, s.sk)
			c.WithHttpTransport(roundTrip(func(r *http.Request) (*http.Response, error) {
				body, _ := io.ReadAll(r.Body)
				captured.Lock()
				captured.req, captured.body = r.Clone(r.Context()), body
				captured.Unlock()
				r.Body = io.NopCloser(strings.NewReader(string(body)))
				return http.DefaultTransport.RoundTrip(r)
			}))
			keyID := ""
			if strict {
				// The SDK cannot make a key here: make one through Alibaba
				// Cloud's dialect.
				keyID = newRPC(t, s).ok("CreateKey", nil)["KeyMetadata"].(map[string]any)["KeyId"].(string)
			} else {
				keyID = tcCreate(c, 1, false)
			}
			dk := tckms.NewDescribeKeyRequest()
			dk.KeyId = common.StringPtr(keyID)
			_, err := c.DescribeKey(dk)
			captured.Lock()
			req, body := captured.req, string(captured.body)
			captured.Unlock()
			if req.Header.Get("X-TC-Action") != "DescribeKey" || strings.Contains(strings.ToLower(req.Header.Get("Authorization")), "x-tc-action") {
				t.Fatalf("the SDK's request is not what this test is about: %v", req.Header)
			}
			if strict {
				tcError(t, err, "AuthFailure.SignatureFailure")
			} else {
				must(0, err)
				// Resent as DisableKey from another connection: accepted, as
				// Tencent Cloud accepts it.
				r := req.Clone(context.Background())
				r.RequestURI = ""
				r.Header.Set("X-TC-Action", "DisableKey")
				r.Body = io.NopCloser(strings.NewReader(body))
				resp := must(clientFrom("127.0.0.1").Do(r))
				raw := must(io.ReadAll(resp.Body))
				resp.Body.Close()
				if code := errorCode(raw); code != "" {
					t.Fatalf("one signature, another action: %s", raw)
				}
			}

			// Signed x-tc-action: accepted in both modes, and changing it
			// breaks the signature.
			now := time.Now()
			stamp := strconv.FormatInt(now.Unix(), 10)
			body = `{"KeyId":"` + keyID + `"}`
			signed := signedTC3(t, s, "DescribeKey", body, map[string]string{"X-TC-Timestamp": stamp,
				"Authorization": signers.TC3Signing(s.ak, s.sk, "kms", s.addr, stamp, now.UTC().Format("2006-01-02"), body, map[string]string{"x-tc-action": "describekey"})})
			if got := sendTC3(t, signed, body); got.code != "" {
				t.Fatalf("a request signing x-tc-action: %q", got.raw)
			}
			signed.Header.Set("X-TC-Action", "DisableKey")
			if got := sendTC3(t, signed, body); got.code != "AuthFailure.SignatureFailure" {
				t.Fatalf("signed x-tc-action changed: %q", got.raw)
			}
		})
	}
}

// The official Tencent SDK driven as Terraform's provider drives it:
// several goroutines, each call on a connection of its own or a kept-alive
// one, and pairs of actions with one body in one second (EnableKeyRotation
// then DescribeKey, DescribeKey then DisableKey, DisableKey then
// DescribeKey), which carry one signature. Every call must succeed, in 20
// rounds in a row.
func TestTencentSDKLikeTerraform(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--rate-limit", "0") // the signatures are under test, not the rate
	var sigs struct {
		sync.Mutex
		actions map[string]map[string]bool // signature → actions sent with it
	}
	sigs.actions = map[string]map[string]bool{}
	client := func(keepAlive bool) *tckms.Client {
		c := newTencent(t, s, s.sk)
		tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 4}
		c.WithHttpTransport(roundTrip(func(r *http.Request) (*http.Response, error) {
			sig := r.Header.Get("Authorization")
			sigs.Lock()
			if sigs.actions[sig] == nil {
				sigs.actions[sig] = map[string]bool{}
			}
			sigs.actions[sig][r.Header.Get("X-TC-Action")] = true
			sigs.Unlock()
			return tr.RoundTrip(r)
		}))
		return c
	}
	const workers = 4
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				c := client(w%2 == 0)
				id := tcCreate(c, 1, false)
				key := func() *string { return common.StringPtr(id) }
				steps := []func() error{
					func() error {
						r := tckms.NewEnableKeyRotationRequest()
						r.KeyId = key()
						_, err := c.EnableKeyRotation(r)
						return err
					},
					func() error {
						r := tckms.NewDescribeKeyRequest()
						r.KeyId = key()
						_, err := c.DescribeKey(r)
						return err
					},
					func() error {
						r := tckms.NewDisableKeyRequest()
						r.KeyId = key()
						_, err := c.DisableKey(r)
						return err
					},
					func() error {
						r := tckms.NewDescribeKeyRequest()
						r.KeyId = key()
						_, err := c.DescribeKey(r)
						return err
					},
					func() error { r := tckms.NewEnableKeyRequest(); r.KeyId = key(); _, err := c.EnableKey(r); return err },
					func() error {
						r := tckms.NewGetKeyRotationStatusRequest()
						r.KeyId = key()
						_, err := c.GetKeyRotationStatus(r)
						return err
					},
					func() error {
						r := tckms.NewDisableKeyRotationRequest()
						r.KeyId = key()
						_, err := c.DisableKeyRotation(r)
						return err
					},
				}
				for i, step := range steps {
					if err := step(); err != nil {
						errs <- fmt.Errorf("round %d, worker %d, step %d: %w", round, w, i, err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	shared := 0
	for _, actions := range sigs.actions {
		if len(actions) > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("no signature was sent with two actions: the test did not make the provider's pairs")
	}
	t.Logf("%d signatures were sent with more than one action, all accepted", shared)
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
