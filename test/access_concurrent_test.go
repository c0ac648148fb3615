package test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client"
)

// TestLeastPrivilegeConcurrent: the official SDKs of both clouds, eight
// clients each on its own connections, send a user's allowed and refused
// requests at once; every answer is the policy's, and a deny put through
// the admin CLI mid-flight refuses every request that starts after the
// command returns.
func TestLeastPrivilegeConcurrent(t *testing.T) {
	defer catch(t)
	s := startServer(t, "--rate-limit", "0")
	ctx := context.Background()
	root := s.rawClient(t, client.Aliyun, s.ak, s.sk, nil)
	newKey := func(app string) string {
		var out struct{ KeyMetadata struct{ KeyId string } }
		must(0, root.Call(ctx, "CreateKey", map[string]any{"Tags": `[{"TagKey":"app","TagValue":"` + app + `"}]`}, &out))
		return out.KeyMetadata.KeyId
	}
	keyA, keyB := newKey("a"), newKey("b")
	blobB := must(root.Encrypt(ctx, keyB, []byte("b's")))
	ak, sk := s.makeUser(t, "app-a", map[string]string{"crypto": ramAppA})

	// A call is what one client asked, when, and how it was answered.
	type call struct {
		dialect string
		what    string
		started time.Time
		code    string
	}
	var (
		mu    sync.Mutex
		calls []call
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	record := func(dialect, what string, started time.Time, code string) {
		mu.Lock()
		calls = append(calls, call{dialect, what, started, code})
		mu.Unlock()
	}
	pt := base64.StdEncoding.EncodeToString([]byte("a's"))
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() { // Alibaba Cloud's classic Go SDK
			defer wg.Done()
			a := newV1(t, s.as(ak), sk)
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if j%2 == 0 {
					enc := kms.CreateEncryptRequest()
					a.prep(enc.RpcRequest)
					enc.KeyId, enc.Plaintext = keyA, pt
					_, err := a.c.Encrypt(enc)
					record("aliyun", "Encrypt own key", start, aliyunCode(err))
				} else {
					dec := kms.CreateDecryptRequest()
					a.prep(dec.RpcRequest)
					dec.CiphertextBlob = blobB
					_, err := a.c.Decrypt(dec)
					record("aliyun", "Decrypt other's", start, aliyunCode(err))
				}
			}
		}()
		go func() { // Tencent Cloud's Go SDK
			defer wg.Done()
			c := newTencent(t, s.as(ak), sk)
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if j%2 == 0 {
					enc := tckms.NewEncryptRequest()
					enc.KeyId, enc.Plaintext = common.StringPtr(keyA), common.StringPtr(pt)
					_, err := c.Encrypt(enc)
					record("tencent", "Encrypt own key", start, tcCode(err))
				} else {
					enc := tckms.NewEncryptRequest()
					enc.KeyId, enc.Plaintext = common.StringPtr(keyB), common.StringPtr(pt)
					_, err := c.Encrypt(enc)
					record("tencent", "Encrypt other's", start, tcCode(err))
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	deny := filepath.Join(t.TempDir(), "deny.json")
	must(0, os.WriteFile(deny, []byte(`{"Version":"1","Statement":[{"Effect":"Deny","Action":"kms:*","Resource":"*"}]}`), 0o600))
	putting := time.Now()
	keyport(t, s.env, "user", "policy", "put", "app-a", "deny", "--file", deny).expect(t, 0, "")
	denied := time.Now()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	refusal := map[string]string{"aliyun": "Forbidden.NoPermission", "tencent": "AuthFailure.UnauthorizedOperation"}
	counts := map[string]int{}
	for _, c := range calls {
		dialect, own := c.dialect, c.what == "Encrypt own key"
		switch {
		case c.code != "OK" && c.code != refusal[dialect]:
			t.Errorf("%s: %s, neither an answer nor a refusal", c.what, c.code)
		case c.started.After(denied) && c.code != refusal[dialect]:
			t.Errorf("%s started %v after the deny was put and was allowed", c.what, c.started.Sub(denied))
		case !own && c.code != refusal[dialect]:
			t.Errorf("%s was allowed", c.what)
		case own && c.started.Before(putting) && c.code != "OK":
			t.Errorf("%s before the deny: %s", c.what, c.code)
		}
		counts[fmt.Sprintf("%s %s %s", dialect, c.what, c.code)]++
	}
	t.Logf("%d calls from 8 clients: %v", len(calls), counts)
	if counts["aliyun Encrypt own key OK"] == 0 || counts["tencent Encrypt own key OK"] == 0 {
		t.Fatal("no allowed request went through")
	}
}

// aliyunCode is an Alibaba Cloud SDK call's error code, "OK" for none.
func aliyunCode(err error) string {
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return "OK"
}
