package hsm_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/keyport-kms/keyport/client/byok"
	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/softhsm"
)

// wrap encrypts msg to a wrapping public key the way a cloud user would.
func wrap(t testing.TB, kp hsm.KeyPair, alg hsm.Algorithm, msg []byte) []byte {
	t.Helper()
	ct, err := byok.Wrap(kp.PublicDER, alg.String(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func TestDecryptEveryAlgorithm(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	pairs := generatePairs(t, h)
	for _, alg := range hsm.Algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			kp := pairs[alg.Spec()]
			for i := 0; i < 100; i++ {
				for _, size := range []int{32, 16} {
					msg := make([]byte, size)
					_, _ = rand.Read(msg)
					got, err := h.Decrypt(ctx, kp.ID, alg, wrap(t, kp, alg, msg))
					if err != nil {
						t.Fatalf("message %d (%d bytes): %v", i, size, err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("message %d: got %x, want %x", i, got, msg)
					}
				}
			}
		})
	}
}

func TestDecryptBadCiphertext(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	pairs := generatePairs(t, h)
	for _, alg := range hsm.Algorithms() {
		kp := pairs[alg.Spec()]
		good := wrap(t, kp, alg, bytes.Repeat([]byte{7}, 32))
		cases := map[string][]byte{
			"empty":     {},
			"truncated": good[:len(good)-1],
			"too long":  append(append([]byte{}, good...), 0),
			"first":     flip(good, 0),
			"middle":    flip(good, len(good)/2),
			"last":      flip(good, len(good)-1),
			"zeros":     make([]byte, len(good)),
		}
		for name, ct := range cases {
			t.Run(fmt.Sprintf("%s/%s", alg, name), func(t *testing.T) {
				_, err := h.Decrypt(ctx, kp.ID, alg, ct)
				if err != hsm.ErrBadCiphertext {
					t.Fatalf("got %v, want exactly ErrBadCiphertext", err)
				}
			})
		}
	}
	// An unknown key is not a ciphertext problem.
	if _, err := h.Decrypt(ctx, "00112233445566778899aabbccddeeff", hsm.RSAOAEPSHA1, make([]byte, 256)); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("unknown key: got %v, want ErrNotFound", err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x01
	return c
}

// Many goroutines share a small pool: every call gets a session in turn
// and every result is right.
func TestConcurrentDecrypt(t *testing.T) {
	tok := softhsm.New(t)
	cfg := configFor(tok)
	cfg.MaxSessions = 3
	h, err := hsm.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx := ctxT(t)
	kp, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				alg := hsm.Algorithms()[(g+i)%3] // the three RSA algorithms
				msg := []byte(fmt.Sprintf("goroutine %02d message %02d......", g, i))
				got, err := h.Decrypt(ctx, kp.ID, alg, wrap(t, kp, alg, msg))
				if err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("g%d i%d %s: %q, %v", g, i, alg, got, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Raw RSA output shorter than the modulus is right-aligned in a k-byte
// buffer; longer output is an error, not a panic.
func TestLeftPad(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256} {
		em := bytes.Repeat([]byte{7}, n)
		out, err := hsm.LeftPad(em, 256)
		if err != nil || len(out) != 256 || !bytes.Equal(out[256-n:], em) || !bytes.Equal(out[:256-n], make([]byte, 256-n)) {
			t.Fatalf("%d bytes: %x, %v", n, out, err)
		}
	}
	if _, err := hsm.LeftPad(make([]byte, 257), 256); err == nil {
		t.Fatal("257 bytes for a 256-byte modulus accepted")
	}
}

// Key generation, decryption, secret-key use and deletion all at once on
// SoftHSM2, whose object store corrupts concurrent writes: every call
// succeeds, every new pair decrypts, and every object is readable after.
// (Run with -race too.)
func TestConcurrentGenerateDecryptDelete(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	base, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	mac, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "stress-mac", Kind: hsm.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	for g := 0; g < 3; g++ { // generators: each pair is used, then deleted
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				spec := []hsm.PairSpec{hsm.RSA2048, hsm.SM2}[(g+i)%2]
				kp, err := h.GenerateKeyPair(ctx, spec, "keyport-test-wrap", "")
				if err != nil {
					errs <- fmt.Errorf("generate %s: %w", spec, err)
					return
				}
				alg := hsm.RSAOAEPSHA1
				if spec == hsm.SM2 {
					alg = hsm.SM2PKE
				}
				msg := []byte(fmt.Sprintf("generator %d pair %d......", g, i))
				if got, err := h.Decrypt(ctx, kp.ID, alg, wrap(t, kp, alg, msg)); err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("new %s pair: %q, %v", spec, got, err)
				}
				if err := h.Delete(ctx, kp.ID); err != nil {
					errs <- fmt.Errorf("delete: %w", err)
				}
			}
		}(g)
	}
	var readers sync.WaitGroup
	for g := 0; g < 3; g++ { // readers, until the generators are done
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := []byte("a message to decrypt, again.....")
				if got, err := h.Decrypt(ctx, base.ID, hsm.RSAOAEPSHA256, wrap(t, base, hsm.RSAOAEPSHA256, msg)); err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("decrypt during generation: %v", err)
					return
				}
				if _, err := h.MAC(ctx, mac, msg); err != nil {
					errs <- fmt.Errorf("mac during generation: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	objs, err := h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.Class == "unreadable" {
			t.Errorf("an object was left unreadable: %s", o.Label)
		}
	}
	if len(objs) != 3 { // base pair and the MAC key
		t.Errorf("%d objects left, want 3", len(objs))
	}
}

// RSA pairs of 3072 and 4096 bits decrypt every RSA algorithm, on the
// token's own path or the raw one, and their private halves carry the
// same policy as a 2048-bit pair's.
func TestDecryptLargerRSA(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	specs := []hsm.PairSpec{hsm.RSA3072, hsm.RSA4096}
	if testing.Short() {
		specs = specs[:1] // a 4096-bit prime search takes seconds
	}
	for _, spec := range specs {
		kp, err := h.GenerateKeyPair(ctx, spec, "keyport-test-rsa", "")
		if err != nil {
			t.Fatalf("generate %s: %v", spec, err)
		}
		for _, alg := range hsm.Algorithms() {
			if !alg.Fits(spec) {
				continue
			}
			msg := make([]byte, 32)
			_, _ = rand.Read(msg)
			got, err := h.Decrypt(ctx, kp.ID, alg, wrap(t, kp, alg, msg))
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("%s %s: %x, %v", spec, alg, got, err)
			}
		}
		if _, err := h.Decrypt(ctx, kp.ID, hsm.RSAOAEPSHA256, make([]byte, 256)); !errors.Is(err, hsm.ErrBadCiphertext) {
			t.Fatalf("%s: a 2048-bit ciphertext: %v, want ErrBadCiphertext", spec, err)
		}
		if err := h.Delete(ctx, kp.ID); err != nil {
			t.Fatal(err)
		}
	}
}
