package test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/pgserver"
	"github.com/keyport-kms/keyport/softhsm"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/postgres"
)

// replicaSet is one deployment run as several `keyport serve` processes on
// one SoftHSM token and one PostgreSQL database, as an operator runs them
// behind a load balancer.
type replicaSet struct {
	url    string
	tok    *softhsm.Token
	env    []string // the CLI's environment: the token and the store
	nodes  []*server
	ak, sk string
}

// startReplicas starts n replicas on a new database and token and makes an
// access key through the CLI, which works on the database directly.
func startReplicas(t testing.TB, url string, n int, extra ...string) *replicaSet {
	t.Helper()
	rs := newReplicaSet(t, url)
	for i := 0; i < n; i++ {
		rs.add(t, "", extra...)
	}
	rs.ak, rs.sk = newAccessKey(t, rs.env)
	for _, s := range rs.nodes {
		s.ak, s.sk = rs.ak, rs.sk
	}
	return rs
}

// newReplicaSet is a deployment on url and a new token, with no replica
// yet: the first one started makes the store.
func newReplicaSet(t testing.TB, url string) *replicaSet {
	t.Helper()
	tok := softhsm.New(t)
	rs := &replicaSet{url: url, tok: tok,
		env: []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN, "KEYPORT_STORE=" + url}}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("KEYPORT_TEST_LOGS") != "" {
			for i, s := range rs.nodes {
				t.Logf("replica %d's log:\n%s", i, s.stderr)
			}
		}
	})
	return rs
}

// add starts one more replica of the set, on the given CPUs (all if
// empty); once startReplicas has returned, it takes the set's access key.
func (rs *replicaSet) add(t testing.TB, cpus string, extra ...string) *server {
	t.Helper()
	s := &server{tok: rs.tok, env: rs.env, cpus: cpus, ak: rs.ak, sk: rs.sk}
	s.start(t, extra...)
	rs.nodes = append(rs.nodes, s)
	return s
}

func newAccessKey(t testing.TB, env []string) (string, string) {
	t.Helper()
	r := keyport(t, env, "access-key", "create", "--json")
	var ak struct{ AccessKeyId, AccessKeySecret string }
	if r.code != 0 || jsonInto(r.stdout, &ak) != nil {
		t.Fatalf("access-key create: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return ak.AccessKeyId, ak.AccessKeySecret
}

// referenced is what the store says the deployment's token objects are.
func referenced(t *testing.T, url string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := map[string]bool{}
	_ = st.EachWrapping(ctx, func(w *store.WrappingKey) bool { ids[w.ID] = true; return true })
	_ = st.KeyObjects(ctx, func(o, _ string) bool { ids[o] = true; return true })
	for _, m := range []string{store.MetaMasterSeal, store.MetaMasterMAC, store.MetaAuditMAC} {
		if v, _ := st.Meta(ctx, m); v != "" {
			ids[v] = true
		}
	}
	return ids
}

// Three replicas serve one deployment: each step of a BYOK flow through
// the official SDKs goes to another replica, an access key made by the
// CLI works on all at once and stops working on all within the secret
// cache's TTL once disabled, and a nonce used on one is refused on the
// others.
func TestReplicasServeOneDeployment(t *testing.T) {
	defer catch(t)
	rs := startReplicas(t, pgserver.Database(t), 3, "--secret-cache-ttl", "2s")
	a, b, c := rs.nodes[0], rs.nodes[1], rs.nodes[2]
	va, vb, vc := newV1(t, a, rs.sk), newV1(t, b, rs.sk), newV1(t, c, rs.sk)

	for _, alg := range []string{"RSAES_OAEP_SHA_256", "SM2PKE", "RSAES_PKCS1_V1_5"} {
		t.Run("aliyun/"+alg, func(t *testing.T) {
			defer catch(t)
			ck := kms.CreateCreateKeyRequest()
			vc.prep(ck.RpcRequest)
			ck.Origin, ck.ProtectionLevel = "EXTERNAL", "HSM"
			id := must(vc.c.CreateKey(ck)).KeyMetadata.KeyId
			material := make([]byte, 32)
			_, _ = rand.Read(material)
			gp := kms.CreateGetParametersForImportRequest()
			va.prep(gp.RpcRequest)
			gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = id, byok.Spec(alg), alg
			params := must(va.c.GetParametersForImport(gp))
			im := kms.CreateImportKeyMaterialRequest()
			vb.prep(im.RpcRequest)
			im.KeyId, im.ImportToken = id, params.ImportToken
			im.EncryptedKeyMaterial = base64.StdEncoding.EncodeToString(must(byok.Wrap(must(base64.StdEncoding.DecodeString(params.PublicKey)), alg, material)))
			must(vb.c.ImportKeyMaterial(im))
			enc := kms.CreateEncryptRequest()
			vc.prep(enc.RpcRequest)
			enc.KeyId, enc.Plaintext = id, "cmVwbGljYXM="
			blob := must(vc.c.Encrypt(enc)).CiphertextBlob
			dec := kms.CreateDecryptRequest()
			va.prep(dec.RpcRequest)
			dec.CiphertextBlob = blob
			if got := must(va.c.Decrypt(dec)).Plaintext; got != "cmVwbGljYXM=" {
				t.Fatalf("decrypt on A of what C encrypted: %q", got)
			}
		})
	}
	t.Run("tencent", func(t *testing.T) {
		defer catch(t)
		ta, tb, tc := newTencent(t, a, rs.sk), newTencent(t, b, rs.sk), newTencent(t, c, rs.sk)
		ck := tckms.NewCreateKeyRequest()
		ck.Alias, ck.Type, ck.HsmClusterId = common.StringPtr("replicas"), common.Uint64Ptr(2), common.StringPtr("keyport-hsm")
		id := *must(tb.CreateKey(ck)).Response.KeyId
		gp := tckms.NewGetParametersForImportRequest()
		gp.KeyId, gp.WrappingAlgorithm, gp.WrappingKeySpec = common.StringPtr(id), common.StringPtr("RSAES_OAEP_SHA_256"), common.StringPtr("RSA_2048")
		p := must(tc.GetParametersForImport(gp)).Response
		material := make([]byte, 32)
		_, _ = rand.Read(material)
		im := tckms.NewImportKeyMaterialRequest()
		im.KeyId, im.ImportToken, im.ValidTo = common.StringPtr(id), p.ImportToken, common.Uint64Ptr(0)
		im.EncryptedKeyMaterial = common.StringPtr(base64.StdEncoding.EncodeToString(must(byok.Wrap(must(base64.StdEncoding.DecodeString(*p.PublicKey)), "RSAES_OAEP_SHA_256", material))))
		must(ta.ImportKeyMaterial(im))
		enc := tckms.NewEncryptRequest()
		enc.KeyId, enc.Plaintext = common.StringPtr(id), common.StringPtr("cmVwbGljYXM=")
		blob := must(tb.Encrypt(enc)).Response.CiphertextBlob
		dec := tckms.NewDecryptRequest()
		dec.CiphertextBlob = blob
		if got := *must(tc.Decrypt(dec)).Response.Plaintext; got != "cmVwbGljYXM=" {
			t.Fatalf("decrypt on C of what B encrypted: %q", got)
		}
	})

	t.Run("access keys", func(t *testing.T) {
		defer catch(t)
		ak, sk := newAccessKey(t, rs.env) // what an operator types, replicas running
		for _, s := range rs.nodes {
			cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: ak, Secret: sk}))
			if _, err := cl.CreateKey(context.Background(), false, false); err != nil {
				t.Fatalf("a new access key on %s: %v", s.addr, err)
			}
		}
		keyport(t, rs.env, "access-key", "disable", "--id", ak).expect(t, 0, "")
		time.Sleep(2500 * time.Millisecond) // the secret cache's TTL, and a margin
		for _, s := range rs.nodes {
			cl := must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: ak, Secret: sk}))
			var ae *client.APIError
			if _, err := cl.CreateKey(context.Background(), false, false); !errors.As(err, &ae) || ae.Status/100 != 4 {
				t.Fatalf("a disabled access key on %s: %v", s.addr, err)
			}
		}
	})

	t.Run("nonce replayed to another replica", func(t *testing.T) {
		p := map[string]string{"Action": "ListKeys", "Format": "JSON"}
		rawV1{addr: a.addr, ak: rs.ak, sk: rs.sk}.sign("GET", p)
		rawV1{addr: a.addr}.do(t, "GET", p, true, nil).expect(t, http.StatusOK, "")
		for _, s := range []*server{b, c} {
			rawV1{addr: s.addr}.do(t, "GET", p, true, nil).expect(t, http.StatusBadRequest, "SignatureNonceUsed")
		}
	})
}

// flowResult is one BYOK flow the servers acknowledged.
type flowResult struct {
	keyID    string
	material []byte
}

// 64 BYOK flows spread over three replicas, one of which is killed with
// SIGKILL and restarted meanwhile: every acknowledged import works on every
// replica afterwards, no wrapping public key was handed out twice, and the
// token keeps no object the store does not know once the orphan grace has
// passed.
func TestReplicasSurviveKill(t *testing.T) {
	rs := startReplicas(t, pgserver.Database(t), 3, "--orphan-grace", "3s", "--rate-limit", "0")
	var addrMu sync.Mutex
	addr := func(i int) string { addrMu.Lock(); defer addrMu.Unlock(); return rs.nodes[i].addr }
	clientOf := func(i int) *client.Client {
		return must(client.New(client.Config{Endpoint: "http://" + addr(i), Dialect: client.Aliyun, AccessKeyID: rs.ak, Secret: rs.sk}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var (
		mu         sync.Mutex
		acked      []flowResult
		publicKeys = map[string]int{}
		attempts   atomic.Int64
		done       atomic.Int64
		failures   = map[string]int{}
	)
	// flow runs one BYOK import with each step on a replica of its own
	// choosing; a step that fails abandons the flow (a load balancer's
	// client would retry it from the start).
	flow := func(hsmLevel bool, alg string) error {
		attempts.Add(1)
		n := mrand.IntN(3)
		id, err := clientOf(n).CreateKey(ctx, true, hsmLevel)
		if err != nil {
			return err
		}
		p, err := clientOf((n+1)%3).GetParametersForImport(ctx, id, byok.Spec(alg), alg)
		if err != nil {
			return err
		}
		mu.Lock()
		publicKeys[string(p.PublicKey)]++
		mu.Unlock()
		material := make([]byte, 32)
		_, _ = rand.Read(material)
		wrapped, err := byok.Wrap(p.PublicKey, alg, material)
		if err != nil {
			return err
		}
		if err := clientOf((n+2)%3).ImportKeyMaterial(ctx, id, p.ImportToken, wrapped, time.Time{}); err != nil {
			return err
		}
		mu.Lock()
		acked = append(acked, flowResult{id, material})
		mu.Unlock()
		return nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alg := []string{"SM2PKE", "RSAES_OAEP_SHA_256", "RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1"}[i%4] // SM2 on HSM-level keys only
			for try := 0; try < 20 && ctx.Err() == nil; try++ {
				err := flow(i%2 == 0, alg)
				if err == nil {
					break
				}
				var ae *client.APIError
				what := "transport"
				if errors.As(err, &ae) {
					what = ae.Code
				}
				mu.Lock()
				failures[what]++
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
			done.Add(1)
		}()
	}
	// Kill B once a quarter of the flows are through, and bring it back.
	for done.Load() < 16 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	b := rs.nodes[1]
	_ = b.cmd.Process.Kill()
	<-b.done
	b.cmd = nil
	time.Sleep(500 * time.Millisecond)
	addrMu.Lock()
	b.start(t, "--orphan-grace", "3s", "--rate-limit", "0")
	addrMu.Unlock()
	wg.Wait()
	t.Logf("%d flows acknowledged of %d attempts; abandoned attempts by error type: %v", len(acked), attempts.Load(), failures)
	if len(acked) != 64 {
		t.Fatalf("%d of 64 flows completed", len(acked))
	}
	for what := range failures {
		if what != "transport" { // the killed replica's connections; any answer is wrong
			t.Fatalf("flows were refused with %s", what)
		}
	}
	for pub, n := range publicKeys {
		if n > 1 {
			t.Fatalf("a wrapping public key was handed out %d times (%x…)", n, pub[:16])
		}
	}
	// Every acknowledged import, on every replica: encrypt on one,
	// decrypt on the next.
	for _, r := range acked {
		for i := 0; i < 3; i++ {
			blob, err := clientOf(i).Encrypt(ctx, r.keyID, r.material[:8])
			if err != nil {
				t.Fatalf("encrypt under %s on replica %d: %v", r.keyID, i, err)
			}
			if pt, err := clientOf((i+1)%3).Decrypt(ctx, blob); err != nil || string(pt) != string(r.material[:8]) {
				t.Fatalf("decrypt under %s on replica %d: %v", r.keyID, (i+1)%3, err)
			}
		}
	}
	// The token returns to what the store knows: what the killed replica
	// made and never recorded goes once the grace has passed.
	dep := rs.nodes[0].deployment(t)
	if os.Getenv("KEYPORT_TEST_LOGS") != "" {
		t.Log(keyport(t, rs.env, "hsm", "objects").stdout)
	}
	var extra []string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		known := referenced(t, rs.url)
		extra = extra[:0]
		for _, o := range tokenObjects(t, rs.env)[dep] {
			if !known[o.ID] {
				extra = append(extra, o.ID+" "+o.Label)
			}
		}
		if len(extra) == 0 {
			break
		}
	}
	if len(extra) > 0 {
		t.Fatalf("token objects the store does not know: %v", extra)
	}
}

// PostgreSQL stopped under load: requests fail with the dialect's 503
// while it is down, /readyz says so, and everything recovers without a
// restart; nothing acknowledged is lost.
func TestReplicasDatabaseOutage(t *testing.T) {
	srv := pgserver.Own(t)
	url, err := srv.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rs := startReplicas(t, url, 2, "--rate-limit", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clients := []*client.Client{}
	for _, s := range rs.nodes {
		clients = append(clients, must(client.New(client.Config{Endpoint: "http://" + s.addr, Dialect: client.Aliyun, AccessKeyID: rs.ak, Secret: rs.sk})))
	}
	tclient := must(client.New(client.Config{Endpoint: "http://" + rs.nodes[1].addr, Dialect: client.Tencent, AccessKeyID: rs.ak, Secret: rs.sk}))
	keyID := must(clients[0].CreateKey(ctx, false, false))

	type ack struct{ blob, plain string }
	var (
		mu      sync.Mutex
		acks    []ack
		created []string
		codes   = map[string]int{}
		stop    atomic.Bool
	)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				cl := clients[(g+i)%2]
				plain := fmt.Sprintf("g%d-%d", g, i)
				var err error
				if i%5 == 4 {
					var id string
					if id, err = cl.CreateKey(ctx, false, false); err == nil {
						mu.Lock()
						created = append(created, id)
						mu.Unlock()
					}
				} else {
					var blob string
					if blob, err = cl.Encrypt(ctx, keyID, []byte(plain)); err == nil {
						mu.Lock()
						acks = append(acks, ack{blob, plain})
						mu.Unlock()
					}
				}
				mu.Lock()
				var ae *client.APIError
				switch {
				case err == nil:
					codes["OK"]++
				case errors.As(err, &ae):
					codes[fmt.Sprint(ae.Status, " ", ae.Code)]++
				default:
					codes["transport: "+err.Error()]++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	if err := srv.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	status, body := readyz(rs.nodes[0].addr)
	var tcErr *client.APIError
	_, tcDown := tclient.CreateKey(ctx, false, false)
	errors.As(tcDown, &tcErr)
	time.Sleep(2 * time.Second)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Recovery without a restart: both replicas answer again.
	for i, cl := range clients {
		var err error
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if _, err = cl.Encrypt(ctx, keyID, []byte("after")); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("replica %d after the database came back: %v", i, err)
		}
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	t.Logf("answers under load, database stopped for ~2.5 s: %v; /readyz while down: %d %s; Tencent while down: %v", codes, status, body, tcDown)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %d %s", status, body)
	}
	if tcErr == nil || tcErr.Code != "UnsupportedOperation.ServiceTemporaryUnavailable" {
		t.Fatalf("Tencent with the database down: %v", tcDown)
	}
	for code, n := range codes {
		if code != "OK" && code != "503 ServiceUnavailableTemporary" {
			t.Fatalf("%d answers %q: only OK and 503 ServiceUnavailableTemporary are right", n, code)
		}
	}
	if codes["503 ServiceUnavailableTemporary"] == 0 || codes["OK"] == 0 {
		t.Fatalf("the outage was not seen: %v", codes)
	}
	if status, _ := readyz(rs.nodes[1].addr); status != http.StatusOK {
		t.Fatalf("/readyz after recovery: %d", status)
	}
	for _, a := range acks {
		if pt, err := clients[1].Decrypt(ctx, a.blob); err != nil || string(pt) != a.plain {
			t.Fatalf("an acknowledged ciphertext after the outage: %q %v", pt, err)
		}
	}
	for _, id := range created {
		if _, err := clients[0].KeyState(ctx, id); err != nil {
			t.Fatalf("a key acknowledged during the load is gone: %v", err)
		}
	}
}

// store migrate copies an embedded store with keys of every kind into an
// empty database, leaves the source as it was, refuses a second copy, and
// a replica on the copy decrypts every old ciphertext and takes an import
// token issued before the copy.
func TestStoreMigrate(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	c := newV1(t, s, s.sk)
	var blobs []string
	for _, k := range []struct{ origin, level, alg string }{
		{"EXTERNAL", "SOFTWARE", "RSAES_PKCS1_V1_5"}, {"EXTERNAL", "HSM", "RSAES_OAEP_SHA_256"}, {"EXTERNAL", "HSM", "SM2PKE"},
		{"Aliyun_KMS", "SOFTWARE", ""}, {"Aliyun_KMS", "HSM", ""},
	} {
		var id string
		if k.origin == "EXTERNAL" {
			id, _ = c.byok(k.level, k.alg)
		} else {
			ck := kms.CreateCreateKeyRequest()
			c.prep(ck.RpcRequest)
			ck.ProtectionLevel = k.level
			id = must(c.c.CreateKey(ck)).KeyMetadata.KeyId
		}
		enc := kms.CreateEncryptRequest()
		c.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = id, "cGxhaW50ZXh0"
		blobs = append(blobs, must(c.c.Encrypt(enc)).CiphertextBlob)
		if k.origin == "Aliyun_KMS" {
			// A rotated key with an alias: both versions and the alias carry over.
			r := newRPC(t, s)
			r.ok("CreateKeyVersion", map[string]any{"KeyId": id})
			r.ok("CreateAlias", map[string]any{"KeyId": id, "AliasName": "alias/migrated-" + k.level})
			blobs = append(blobs, must(c.c.Encrypt(enc)).CiphertextBlob)
		}
	}
	// An import token issued before the copy, used after it.
	ck := kms.CreateCreateKeyRequest()
	c.prep(ck.RpcRequest)
	ck.Origin, ck.ProtectionLevel = "EXTERNAL", "HSM"
	pending := must(c.c.CreateKey(ck)).KeyMetadata.KeyId
	gp := kms.CreateGetParametersForImportRequest()
	c.prep(gp.RpcRequest)
	gp.KeyId, gp.WrappingKeySpec, gp.WrappingAlgorithm = pending, "RSA_2048", "RSAES_OAEP_SHA_1"
	params := must(c.c.GetParametersForImport(gp))
	dep := s.deployment(t)
	s.stop(t)

	url := pgserver.Database(t)
	r := keyport(t, nil, "store", "migrate", "--from", s.dir, "--to", url)
	r.expect(t, 0, "counts verified")
	t.Log(r.stdout)
	// The source is retired: no command opens it again.
	keyport(t, nil, "store", "migrate", "--from", s.dir, "--to", pgserver.Database(t)).expect(t, 1, "retired")

	replica := &server{tok: s.tok, ak: s.ak, sk: s.sk,
		env: []string{"KEYPORT_PKCS11_MODULE=" + s.tok.Module, "KEYPORT_TOKEN_LABEL=" + s.tok.Label, "KEYPORT_PIN=" + s.tok.PIN, "KEYPORT_STORE=" + url}}
	replica.start(t)
	if got := replica.deployment(t); got != dep {
		t.Fatalf("the copy is deployment %s, the source %s", got, dep)
	}
	decryptAll(t, replica, blobs)
	newRPC(t, replica).ok("Encrypt", map[string]any{"KeyId": "alias/migrated-HSM", "Plaintext": "cGxhaW50ZXh0"})
	// Admin actions on a PostgreSQL store are kept in the database too.
	made, _ := newAccessKey(t, replica.env)
	if got, want := adminLog(t, url), "StoreMigrate "+dep+" OK\nAccessKeyCreate "+made+" OK"; got != want {
		t.Fatalf("the database's admin log:\n%s\nwant\n%s", got, want)
	}
	rc := newV1(t, replica, s.sk)
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	im := kms.CreateImportKeyMaterialRequest()
	rc.prep(im.RpcRequest)
	im.KeyId, im.ImportToken = pending, params.ImportToken
	im.EncryptedKeyMaterial = base64.StdEncoding.EncodeToString(must(byok.Wrap(must(base64.StdEncoding.DecodeString(params.PublicKey)), "RSAES_OAEP_SHA_1", material)))
	must(rc.c.ImportKeyMaterial(im))

	// HSM keys made and rotated on the replica after the migration.
	var later []string
	for i := 0; i < 2; i++ {
		ck := kms.CreateCreateKeyRequest()
		rc.prep(ck.RpcRequest)
		ck.ProtectionLevel = "HSM"
		id := must(rc.c.CreateKey(ck)).KeyMetadata.KeyId
		enc := kms.CreateEncryptRequest()
		rc.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = id, "cGxhaW50ZXh0"
		later = append(later, must(rc.c.Encrypt(enc)).CiphertextBlob)
		if i == 0 {
			newRPC(t, replica).ok("CreateKeyVersion", map[string]any{"KeyId": id})
			later = append(later, must(rc.c.Encrypt(enc)).CiphertextBlob)
		}
	}
	objectsBefore := countTokenObjects(t, s.tok)

	// The old store refuses every command, naming where it went.
	old := append(slices.Clip(s.env), "KEYPORT_AUDIT_LOG=")
	keyport(t, old, "serve", "--listen", "127.0.0.1:0").expect(t, 1, "retired: it was migrated to")
	keyport(t, old, "hsm", "purge", "--expired").expect(t, 1, "retired")
	keyport(t, old, "hsm", "purge", "--orphans", "--deployment", dep, "--yes").expect(t, 1, "retired")
	keyport(t, old, "access-key", "list").expect(t, 1, "retired")

	// Forced past the mark and started beside the replica, it destroys none
	// of the objects the replica made: they are in the replica's ledger,
	// not in its own.
	keyport(t, old, "store", "unretire", "--data-dir", s.dir, "--yes").expect(t, 0, "usable again")
	s.start(t)
	s.stop(t)
	keyport(t, old, "hsm", "purge", "--expired").expect(t, 0, "0 orphaned objects")
	keyport(t, old, "hsm", "purge", "--orphans", "--deployment", dep, "--yes").expect(t, 0, "")
	if n := countTokenObjects(t, s.tok); n < objectsBefore {
		t.Fatalf("the old store destroyed %d of the replica's token objects", objectsBefore-n)
	}
	decryptAll(t, replica, append(blobs, later...))
}

// adminLog is the admin log a PostgreSQL store keeps, one action a line.
func adminLog(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, url, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var lines []string
	err = st.EachAdminRecord(ctx, func(record []byte) bool {
		var r auditLine
		if err := json.Unmarshal(record, &r); err != nil || r.Dialect != "admin" {
			t.Errorf("admin record %s: %v", record, err)
		}
		lines = append(lines, r.Action+" "+r.AccessKeyID+" "+r.Result)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// countTokenObjects counts every object on the token.
func countTokenObjects(t *testing.T, tok *softhsm.Token) int {
	t.Helper()
	r := keyport(t, []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN}, "hsm", "objects", "--json")
	var objs []any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &objs) != nil {
		t.Fatalf("hsm objects: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return len(objs)
}

func jsonInto(s string, v any) error { return json.Unmarshal([]byte(s), v) }
