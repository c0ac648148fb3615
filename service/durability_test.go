package service_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store/bolt"
)

const childEnv = "KEYPORT_TEST_DURABILITY_CHILD"

// durabilityChild runs in a child process: a stream of imports, each
// acknowledged on stdout only once ImportKeyMaterial and Encrypt returned.
func durabilityChild() int {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := hsm.Open(ctx, hsm.Config{Module: os.Getenv("KP_MODULE"), TokenLabel: os.Getenv("KP_LABEL"), PIN: os.Getenv("KP_PIN"), Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := bolt.Create(os.Getenv("KP_DIR"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	svc, err := service.New(ctx, service.Options{Token: h, Store: st, PoolRSA: 1, PoolSM2: 1, PoolRSALarge: -1, CollectEvery: -1, Reconcile: true, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := 0; ; i++ {
		level, alg := service.ProtectionSoftware, service.AlgRSAOAEPSHA1
		if i%2 == 1 {
			level, alg = service.ProtectionHSM, service.AlgSM2PKE
		}
		md, err := svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: level})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		p, err := svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: specFor(alg), Algorithm: alg})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		material := make([]byte, 32)
		_, _ = rand.Read(material)
		if err := svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{
			KeyID: md.KeyID, ImportToken: p.ImportToken, EncryptedMaterial: wrapMaterial(nil, p.PublicKey, alg, material),
		}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		pt := fmt.Sprintf("acknowledged-%d", i)
		enc, err := svc.Encrypt(ctx, service.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte(pt)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("ACK %s %s %s\n", md.KeyID, base64.StdEncoding.EncodeToString(enc.CiphertextBlob), pt)
	}
}

// A child process importing keys is killed with SIGKILL mid-stream; after a
// restart on the same token and data directory every acknowledged import
// still decrypts and the store opens cleanly.
func TestDurabilityAcrossKill9(t *testing.T) {
	e := newEnv(t)
	e.close() // the child owns token and store until it is killed

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "KP_MODULE="+e.tok.Module, "KP_LABEL="+e.tok.Label, "KP_PIN="+e.tok.PIN, "KP_DIR="+e.dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type ack struct{ keyID, blob, plaintext string }
	var acks []ack
	lines := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(90*time.Second, func() { _ = cmd.Process.Kill() })
	for len(acks) < 12 && lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 4 && f[0] == "ACK" {
			acks = append(acks, ack{f[1], f[2], f[3]})
		}
	}
	deadline.Stop()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acks) < 12 {
		t.Fatalf("child acknowledged only %d imports before dying: %s", len(acks), stderr.String())
	}

	e.open(t)
	ctx := ctxT(t)
	for _, a := range acks {
		blob, _ := base64.StdEncoding.DecodeString(a.blob)
		dec, err := e.svc.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: blob})
		if err != nil || string(dec.Plaintext) != a.plaintext || dec.KeyID != a.keyID {
			t.Fatalf("acknowledged %s lost after kill -9: %v", a.plaintext, err)
		}
	}
}
