package service_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/keyport-kms/keyport/service"
)

// 64 goroutines run whole import flows at once, on distinct keys and on one
// key: every import lands, no public key is handed out twice, and the one
// key ends with one material object.
func TestConcurrentImports(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	const n = 64
	var mu sync.Mutex
	seen := map[string]bool{}
	record := func(pub []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if seen[string(pub)] {
			return fmt.Errorf("public key handed out twice")
		}
		seen[string(pub)] = true
		return nil
	}
	flow := func(keyID string, alg service.WrappingAlgorithm, material []byte) error {
		p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: keyID, Spec: specFor(alg), Algorithm: alg})
		if err != nil {
			return err
		}
		if err := record(p.PublicKey); err != nil {
			return err
		}
		return e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: keyID, ImportToken: p.ImportToken,
			EncryptedMaterial: wrapMaterial(t, p.PublicKey, alg, material)})
	}

	shared, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: service.ProtectionHSM})
	if err != nil {
		t.Fatal(err)
	}
	sharedMaterial := bytes.Repeat([]byte{0x77}, 32)
	type result struct {
		keyID    string
		material []byte
		err      error
	}
	results := make(chan result, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) { // a key of its own
			defer wg.Done()
			level, alg := service.ProtectionSoftware, service.AlgRSAOAEPSHA1
			if i%2 == 1 {
				level, alg = service.ProtectionHSM, service.AlgSM2PKE
			}
			md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: level})
			if err != nil {
				results <- result{err: err}
				return
			}
			m := make([]byte, 32)
			_, _ = rand.Read(m)
			results <- result{md.KeyID, m, flow(md.KeyID, alg, m)}
		}(i)
		go func() { // all on the shared key
			defer wg.Done()
			results <- result{shared.KeyID, sharedMaterial, flow(shared.KeyID, service.AlgSM2PKE, sharedMaterial)}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		enc, err := e.svc.Encrypt(ctx, service.EncryptRequest{KeyID: r.keyID, Plaintext: []byte("p")})
		if err != nil {
			t.Fatalf("key %s after concurrent import: %v", r.keyID, err)
		}
		if pt := decryptWithMaterial(t, enc.CiphertextBlob, r.material, nil); string(pt) != "p" {
			t.Fatal("blob does not open with the imported material")
		}
	}
	if len(seen) != 2*n {
		t.Fatalf("%d distinct public keys for %d calls", len(seen), 2*n)
	}
	if got := countObjects(t, e.h, e.label("material/"+shared.KeyID)); got != 1 {
		t.Fatalf("shared key has %d material objects, want 1", got)
	}
	// Imports that lost the race removed their objects: one per HSM-level key.
	if got := countObjects(t, e.h, e.label("material/")); got != 1+n/2 {
		t.Fatalf("%d material objects, want %d", got, 1+n/2)
	}
}
