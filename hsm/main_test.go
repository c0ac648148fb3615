package hsm_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/softhsm"
)

func TestMain(m *testing.M) { os.Exit(softhsm.Main(m)) }

// openToken makes a fresh SoftHSM token and opens it.
func openToken(t testing.TB) (*hsm.HSM, *softhsm.Token) {
	t.Helper()
	tok := softhsm.New(t)
	h, err := hsm.Open(context.Background(), configFor(tok))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(h.Close)
	return h, tok
}

func configFor(tok *softhsm.Token) hsm.Config {
	return hsm.Config{
		Module:        tok.Module,
		TokenLabel:    tok.Label,
		PIN:           tok.PIN,
		RetryInterval: 50 * time.Millisecond,
		SessionWait:   2 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// generatePairs makes one wrapping key pair of each spec.
func generatePairs(t testing.TB, h *hsm.HSM) map[hsm.PairSpec]hsm.KeyPair {
	t.Helper()
	pairs := map[hsm.PairSpec]hsm.KeyPair{}
	for _, spec := range []hsm.PairSpec{hsm.RSA2048, hsm.SM2} {
		kp, err := h.GenerateKeyPair(ctxT(t), spec, "keyport-test-wrap", "")
		if err != nil {
			t.Fatalf("generate %s: %v", spec, err)
		}
		pairs[spec] = kp
	}
	return pairs
}
