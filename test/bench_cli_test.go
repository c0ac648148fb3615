package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/sign"
)

// keyport bench and import sign with the dialects' own code; that code
// signs what the official SDKs send exactly as they do.
func TestClientSignsAsTheSDKs(t *testing.T) {
	defer catch(t)
	var mu sync.Mutex
	var got *http.Request
	var body []byte
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, body = r, b
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"RequestId":"x","Response":{"RequestId":"x"}}`)
	}))
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")

	ali := must(kms.NewClientWithAccessKey("cn-hangzhou", "AKID", "the-secret"))
	req := kms.CreateDescribeKeyRequest()
	req.Scheme, req.Domain, req.KeyId = "http", host, "key-1"
	_, _ = ali.DescribeKey(req)
	mu.Lock()
	params := map[string]string{}
	q, _ := url.ParseQuery(got.URL.RawQuery)
	f, _ := url.ParseQuery(string(body))
	for _, vs := range []url.Values{q, f} {
		for k, v := range vs {
			params[k] = v[0]
		}
	}
	method := got.Method
	mu.Unlock()
	if params["Signature"] == "" || sign.RPC(method, "the-secret", params) != params["Signature"] {
		t.Fatalf("Alibaba Cloud SDK signed %q; our signer says %q", params["Signature"], sign.RPC(method, "the-secret", params))
	}

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme = host, "HTTP"
	tc := must(tckms.NewClient(common.NewCredential("SID", "the-key"), "ap-guangzhou", cpf))
	dk := tckms.NewDescribeKeyRequest()
	dk.KeyId = common.StringPtr("key-1")
	_, _ = tc.DescribeKey(dk)
	mu.Lock()
	r, b := got, body
	mu.Unlock()
	if want := r.Header.Get("Authorization"); want == "" || sign.TC3Authorization("SID", "the-key", "kms", r, b) != want {
		t.Fatalf("Tencent Cloud SDK signed %q; our signer says %q", want, sign.TC3Authorization("SID", "the-key", "kms", r, b))
	}
}

// keyport bench against a server, as a user runs it: every operation in
// both dialects, a report in JSON with no errors, and clear usage errors.
func TestKeyportBench(t *testing.T) {
	s := startServer(t, "--rate-limit", "0")
	env := []string{"KEYPORT_ACCESS_KEY_ID=" + s.ak, "KEYPORT_ACCESS_KEY_SECRET=" + s.sk}
	for _, tc := range []struct {
		args []string
		ops  map[client.Op]int
	}{
		{[]string{"--op", "mix", "--requests", "30", "--concurrency", "4"}, map[client.Op]int{client.OpEncrypt: 10, client.OpDecrypt: 10, client.OpGenerateDataKey: 10}},
		{[]string{"--dialect", "tencent", "--op", "mix", "--requests", "30"}, map[client.Op]int{client.OpEncrypt: 10, client.OpDecrypt: 10, client.OpGenerateDataKey: 10}},
		{[]string{"--op", "decrypt", "--hsm", "--rate", "100", "--duration", "1s", "--concurrency", "2"}, nil},
		{[]string{"--op", "get-parameters", "--requests", "3", "--concurrency", "1"}, map[client.Op]int{client.OpGetParameters: 3}},
		{[]string{"--dialect", "tencent", "--op", "import", "--requests", "2", "--wrapping-algorithm", "SM2PKE"}, map[client.Op]int{client.OpImport: 2}},
		{[]string{"--op", "healthz", "--requests", "50"}, map[client.Op]int{client.OpHealthz: 50}},
	} {
		r := keyport(t, env, append([]string{"bench", "--endpoint", "http://" + s.addr, "--json"}, tc.args...)...)
		var rep client.Report
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
			t.Fatalf("%v: exit %d\n%s%s", tc.args, r.code, r.stdout, r.stderr)
		}
		if len(rep.Errors) != 0 {
			t.Fatalf("%v: errors %v", tc.args, rep.Errors)
		}
		for op, n := range tc.ops {
			if got := rep.Op(op); got.Requests != n || got.P50 <= 0 || got.Max < got.P99 {
				t.Fatalf("%v: %s %+v, want %d requests", tc.args, op, got, n)
			}
		}
		if tc.ops == nil && (rep.Op(client.OpDecrypt).Requests < 50 || rep.Seconds < 0.9) {
			t.Fatalf("open loop at 100/s for 1s: %+v", rep)
		}
	}
	keyport(t, env, "bench", "--endpoint", "http://"+s.addr).expect(t, 0, "generate-data-key")
	keyport(t, nil, "bench", "--endpoint", "http://"+s.addr).expect(t, 2, "no credentials")
	keyport(t, env, "bench", "--op", "frobnicate").expect(t, 2, "use one of")
	r := keyport(t, []string{"KEYPORT_ACCESS_KEY_ID=" + s.ak, "KEYPORT_ACCESS_KEY_SECRET=wrong"}, "bench", "--endpoint", "http://"+s.addr, "--op", "healthz", "--requests", "1")
	r.expect(t, 0, "healthz") // no signature needed there
	r = keyport(t, []string{"KEYPORT_ACCESS_KEY_ID=" + s.ak, "KEYPORT_ACCESS_KEY_SECRET=wrong"}, "bench", "--endpoint", "http://"+s.addr, "--op", "encrypt", "--requests", "1")
	r.expect(t, 1, "IncompleteSignature")
}
