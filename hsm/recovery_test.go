package hsm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/softhsm"
)

// decryptOnce wraps a fresh message to kp and decrypts it through the layer.
func decryptOnce(ctx context.Context, t testing.TB, h *hsm.HSM, kp hsm.KeyPair, alg hsm.Algorithm) error {
	msg := bytes.Repeat([]byte{0x5a}, 32)
	got, err := h.Decrypt(ctx, kp.ID, alg, wrap(t, kp, alg, msg))
	if err == nil && !bytes.Equal(got, msg) {
		t.Fatalf("decrypted %x, want %x", got, msg)
	}
	return err
}

func TestReloginAfterLogout(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	kp, err := h.GenerateKeyPair(ctx, hsm.SM2, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := hsm.Raw(ctx, h, "", func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, _ pkcs11.ObjectHandle) error {
		return mod.Logout(s)
	}); err != nil {
		t.Fatal(err)
	}
	if err := decryptOnce(ctx, t, h, kp, hsm.SM2PKE); err != nil {
		t.Fatalf("after logout: %v", err)
	}
}

func TestRecoverAfterSessionsClosed(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	kp, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []hsm.Algorithm{hsm.RSAOAEPSHA1, hsm.RSAOAEPSHA256} {
		if err := decryptOnce(ctx, t, h, kp, alg); err != nil {
			t.Fatal(err)
		}
	}
	// Every session (crypto11's pooled ones too) dies and the login with them.
	if err := hsm.CloseAllSessions(h); err != nil {
		t.Fatal(err)
	}
	for _, alg := range []hsm.Algorithm{hsm.RSAOAEPSHA1, hsm.RSAOAEPSHA256, hsm.RSAPKCS1v15} {
		if err := decryptOnce(ctx, t, h, kp, alg); err != nil {
			t.Fatalf("%s after all sessions closed: %v", alg, err)
		}
	}
}

// The token goes away while workers use the pool (the library is reset and
// the token directory is gone), then comes back: calls fail with
// ErrUnavailable meanwhile, without waiting for their deadlines, and work
// again afterwards without a restart, keys and all.
func TestTokenRemovedAndRestored(t *testing.T) {
	h, tok := openToken(t)
	ctx := ctxT(t)
	kp, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	sm2kp, err := h.GenerateKeyPair(ctx, hsm.SM2, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	unexpected := []error{}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := decryptOnce(cctx, t, h, kp, hsm.RSAOAEPSHA1)
				cancel()
				if err != nil && !errors.Is(err, hsm.ErrUnavailable) {
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)

	away := tok.Dir.Tokens + ".away"
	if err := os.Rename(tok.Dir.Tokens, away); err != nil {
		t.Fatal(err)
	}
	if err := hsm.FinalizeModule(h); err != nil {
		t.Fatal(err)
	}
	// While the token is away every call fails with ErrUnavailable, and
	// fails rather than waiting out its deadline.
	for i := 0; i < 20; i++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := decryptOnce(cctx, t, h, kp, hsm.RSAOAEPSHA1)
		deadlineHit := cctx.Err() != nil
		cancel()
		if !errors.Is(err, hsm.ErrUnavailable) || deadlineHit {
			t.Fatalf("call %d while token away: err=%v, deadline hit=%v; want ErrUnavailable before the deadline", i, err, deadlineHit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.Rename(away, tok.Dir.Tokens); err != nil {
		t.Fatal(err)
	}
	// Back: the next attempt after the retry interval reconnects.
	var lastErr error
	for i := 0; i < 200; i++ {
		if lastErr = decryptOnce(ctx, t, h, kp, hsm.RSAOAEPSHA1); lastErr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("token back, still failing: %v", lastErr)
	}
	close(stop)
	wg.Wait()
	for _, alg := range []hsm.Algorithm{hsm.RSAPKCS1v15, hsm.RSAOAEPSHA256} {
		if err := decryptOnce(ctx, t, h, kp, alg); err != nil {
			t.Fatalf("%s after recovery: %v", alg, err)
		}
	}
	if err := decryptOnce(ctx, t, h, sm2kp, hsm.SM2PKE); err != nil {
		t.Fatalf("SM2 after recovery: %v", err)
	}
	if len(unexpected) > 0 {
		t.Fatalf("workers saw errors other than ErrUnavailable: %v", unexpected[0])
	}
}

// A call that does not come back from the library (a network HSM gone
// mid-call) never holds its caller past the caller's deadline, nor past
// CallTimeout; the timeout gives the connection up, other calls fail fast
// meanwhile, and once the stuck call returns the layer reconnects.
func TestStuckCallsFailFast(t *testing.T) {
	tok := softhsm.New(t)
	ctx := ctxT(t)
	// The pair is made on a connection with the default call timeout: a
	// key generation on a loaded machine takes longer than the test's.
	h0, err := hsm.Open(context.Background(), configFor(tok))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := h0.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	h0.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := configFor(tok)
	cfg.CallTimeout = 300 * time.Millisecond
	h, err := hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	// The caller's deadline: it gets ErrUnavailable while the call is still
	// inside, and the connection stays up.
	release, left := make(chan struct{}), make(chan struct{})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = hsm.Stall(short, h, release, left)
	cancel()
	select {
	case <-left:
		t.Fatal("the call returned only when the library did")
	default:
	}
	if !errors.Is(err, hsm.ErrUnavailable) {
		t.Fatalf("stalled past the deadline: %v", err)
	}
	if err := decryptOnce(ctx, t, h, kp, hsm.RSAOAEPSHA1); err != nil {
		t.Fatalf("a deadline gave the connection up: %v", err)
	}
	close(release)
	<-left

	// The library stops answering: CallTimeout gives the call and the
	// connection up; others fail fast; once the call returns, it reconnects.
	release, left = make(chan struct{}), make(chan struct{})
	err = hsm.Stall(ctx, h, release, left)
	select {
	case <-left:
		t.Fatal("the call returned only when the library did")
	default:
	}
	if !errors.Is(err, hsm.ErrUnavailable) {
		t.Fatalf("stuck past CallTimeout: %v", err)
	}
	for i := 0; i < 5; i++ {
		if err := decryptOnce(ctx, t, h, kp, hsm.RSAOAEPSHA1); !errors.Is(err, hsm.ErrUnavailable) {
			t.Fatalf("while a call is stuck: %v, want ErrUnavailable", err)
		}
	}
	close(release)
	<-left
	var lastErr error
	for i := 0; i < 100; i++ {
		if lastErr = decryptOnce(ctx, t, h, kp, hsm.RSAOAEPSHA1); lastErr == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("no recovery after the stuck call returned: %v", lastErr)
	}
}
