package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store"
)

// snapshot is the state a refused request must leave alone.
type snapshot struct {
	key    service.KeyMetadata
	issued int // wrapping keys issued, over all keys
}

func (e *env) snapshot(t *testing.T, keyID string) snapshot {
	t.Helper()
	md, err := e.svc.DescribeKey(ctxT(t), keyID)
	if err != nil {
		t.Fatal(err)
	}
	issued := 0
	_ = e.st.EachWrapping(ctxT(t), func(w *store.WrappingKey) bool {
		if w.KeyID != "" {
			issued++
		}
		return true
	})
	return snapshot{*md, issued}
}

func TestForbiddenPairings(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	create := func(origin service.Origin, level service.ProtectionLevel) string {
		md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: origin, Protection: level})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	software := create(service.OriginExternal, service.ProtectionSoftware)
	hsmKey := create(service.OriginExternal, service.ProtectionHSM)
	kmsKey := create(service.OriginKMS, service.ProtectionSoftware)
	for _, tc := range []struct {
		name string
		key  string
		spec service.WrappingKeySpec
		alg  service.WrappingAlgorithm
		kind service.Kind
	}{
		{"SM2PKE on SOFTWARE", software, service.WrappingSM2, service.AlgSM2PKE, service.KindUnsupportedProtectionLevel},
		{"RSA spec with SM2PKE", hsmKey, service.WrappingRSA2048, service.AlgSM2PKE, service.KindInvalidParameter},
		{"SM2 spec with OAEP", hsmKey, service.WrappingSM2, service.AlgRSAOAEPSHA256, service.KindInvalidParameter},
		{"SM2 spec with PKCS1", software, service.WrappingSM2, service.AlgRSAPKCS1v15, service.KindInvalidParameter},
		{"unknown spec", hsmKey, "RSA_1024", service.AlgRSAOAEPSHA256, service.KindInvalidParameter},
		{"unknown algorithm", hsmKey, service.WrappingRSA2048, "RSA_AES_KEY_WRAP_SHA_384", service.KindInvalidParameter},
		{"larger spec with PKCS1", hsmKey, service.WrappingRSA4096, service.AlgRSAPKCS1v15, service.KindInvalidParameter},
		{"SM2 spec with RSA-AES", hsmKey, service.WrappingSM2, service.AlgRSAAESKeyWrapSHA256, service.KindInvalidParameter},
		{"lower-case algorithm", hsmKey, service.WrappingRSA2048, "rsaes_oaep_sha_256", service.KindInvalidParameter},
		{"no spec", hsmKey, "", service.AlgRSAOAEPSHA256, service.KindInvalidParameter},
		{"no algorithm", hsmKey, service.WrappingRSA2048, "", service.KindInvalidParameter},
		{"KMS-origin key", kmsKey, service.WrappingRSA2048, service.AlgRSAOAEPSHA1, service.KindUnsupportedOrigin},
		{"unknown key", "00000000-0000-4000-8000-000000000000", service.WrappingRSA2048, service.AlgRSAOAEPSHA1, service.KindNotFound},
		{"no key", "", service.WrappingRSA2048, service.AlgRSAOAEPSHA1, service.KindInvalidParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before snapshot
			if tc.kind != service.KindNotFound && tc.key != "" {
				before = e.snapshot(t, tc.key)
			}
			_, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: tc.key, Spec: tc.spec, Algorithm: tc.alg})
			if service.KindOf(err) != tc.kind {
				t.Fatalf("got %v (%v), want %v", err, service.KindOf(err), tc.kind)
			}
			if tc.kind != service.KindNotFound && tc.key != "" {
				if after := e.snapshot(t, tc.key); !reflect.DeepEqual(after, before) {
					t.Fatalf("state changed: %+v → %+v", before, after)
				}
			}
		})
	}
}

func TestImportTokens(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	newKey := func() string {
		md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal, Protection: service.ProtectionSoftware})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	a, b := newKey(), newKey()
	params := func(key string, alg service.WrappingAlgorithm) *service.ImportParameters {
		p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: key, Spec: specFor(alg), Algorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	material := bytes.Repeat([]byte{9}, 32)
	pa := params(a, service.AlgRSAOAEPSHA256)
	pb := params(b, service.AlgRSAOAEPSHA1)
	if bytes.Equal(pa.PublicKey, pb.PublicKey) || pa.ImportToken == pb.ImportToken {
		t.Fatal("two calls returned the same public key or token")
	}
	if d := pa.Expires.Sub(e.clock.Now()); d < 23*time.Hour || d > 24*time.Hour {
		t.Fatalf("token lifetime %s, want 24h", d)
	}
	raw, _ := base64.StdEncoding.DecodeString(pa.ImportToken)
	alter := func(i int) string {
		c := append([]byte{}, raw...)
		c[i] ^= 1
		return base64.StdEncoding.EncodeToString(c)
	}
	ctA := wrapMaterial(t, pa.PublicKey, service.AlgRSAOAEPSHA256, material)
	before := e.snapshot(t, a)
	for _, tc := range []struct {
		name  string
		key   string
		token string
		ct    []byte
		alg   service.WrappingAlgorithm
		kind  service.Kind
	}{
		{"empty", a, "", ctA, "", service.KindInvalidImportToken},
		{"not base64", a, "%%%", ctA, "", service.KindInvalidImportToken},
		{"truncated", a, pa.ImportToken[:40], ctA, "", service.KindInvalidImportToken},
		{"altered expiry", a, alter(len(raw) - 33), ctA, "", service.KindInvalidImportToken},
		{"altered algorithm", a, alter(len(raw) - 41), ctA, "", service.KindInvalidImportToken},
		{"altered MAC", a, alter(len(raw) - 1), ctA, "", service.KindInvalidImportToken},
		{"altered id", a, alter(3), ctA, "", service.KindInvalidImportToken},
		{"forged", a, base64.StdEncoding.EncodeToString(append(raw[:len(raw)-32:len(raw)-32], make([]byte, 32)...)), ctA, "", service.KindInvalidImportToken},
		{"huge", a, string(bytes.Repeat([]byte("A"), 4096)), ctA, "", service.KindInvalidImportToken},
		{"another key's token", a, pb.ImportToken, ctA, "", service.KindInvalidImportToken},
		{"swapped to another key", b, pa.ImportToken, ctA, "", service.KindInvalidImportToken},
		{"another algorithm", a, pa.ImportToken, ctA, service.AlgRSAOAEPSHA1, service.KindInvalidImportToken},
		{"garbage material", a, pa.ImportToken, []byte("garbage"), "", service.KindInvalidKeyMaterial},
		{"material for another key", a, pa.ImportToken, wrapMaterial(t, pb.PublicKey, service.AlgRSAOAEPSHA256, material), "", service.KindInvalidKeyMaterial},
		{"wrong length", a, pa.ImportToken, wrapMaterial(t, pa.PublicKey, service.AlgRSAOAEPSHA256, material[:16]), "", service.KindInvalidKeyMaterial},
		{"no material", a, pa.ImportToken, nil, "", service.KindInvalidParameter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: tc.key, ImportToken: tc.token, EncryptedMaterial: tc.ct, Algorithm: tc.alg})
			if service.KindOf(err) != tc.kind {
				t.Fatalf("got %v (%v), want %v", err, service.KindOf(err), tc.kind)
			}
		})
	}
	if after := e.snapshot(t, a); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused imports changed state: %+v → %+v", before, after)
	}

	// The token is good for its whole lifetime, and more than once.
	for i := 0; i < 2; i++ {
		if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: a, ImportToken: pa.ImportToken, EncryptedMaterial: ctA, Algorithm: service.AlgRSAOAEPSHA256}); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	// Past its expiry it is refused, even with good material.
	e.clock.Advance(24*time.Hour + time.Second)
	if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: a, ImportToken: pa.ImportToken, EncryptedMaterial: ctA}); !errors.Is(err, service.KindExpiredImportToken) {
		t.Fatalf("expired token: %v", err)
	}
	// An altered token stays invalid, not expired, after expiry.
	if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: a, ImportToken: alter(len(raw) - 1), EncryptedMaterial: ctA}); !errors.Is(err, service.KindInvalidImportToken) {
		t.Fatalf("altered expired token: %v", err)
	}
}

// After MaxDecryptFailures failed decryptions the wrapping key is destroyed
// and its token refused, even with good material.
func TestFailedDecryptionCap(t *testing.T) {
	e := newEnv(t, func(o *service.Options) { o.MaxDecryptFailures = 3 })
	ctx := ctxT(t)
	md, err := e.svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAPKCS1v15})
	if err != nil {
		t.Fatal(err)
	}
	var wrappingID string
	_ = e.st.EachWrapping(ctx, func(w *store.WrappingKey) bool {
		if w.KeyID == md.KeyID {
			wrappingID = w.ID
		}
		return true
	})
	for i := 0; i < 3; i++ {
		junk := make([]byte, 256)
		_, _ = rand.Read(junk)
		if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken, EncryptedMaterial: junk}); !errors.Is(err, service.KindInvalidKeyMaterial) {
			t.Fatalf("junk %d: %v", i, err)
		}
	}
	if n := countObjectsByID(t, e.h, wrappingID); n != 0 {
		t.Fatalf("%d objects of wrapping key %s remain after the cap", n, wrappingID)
	}
	if _, err := e.st.GetIssued(ctx, wrappingID); err == nil {
		t.Fatal("the store still knows the destroyed wrapping key")
	}
	good := wrapMaterial(t, p.PublicKey, service.AlgRSAPKCS1v15, make([]byte, 32))
	if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken, EncryptedMaterial: good}); !errors.Is(err, service.KindInvalidImportToken) {
		t.Fatalf("token after the cap: %v", err)
	}
}

// countingToken is the real token, counting the decryptions and unseals
// asked of it.
type countingToken struct {
	*hsm.HSM
	decrypts, opens atomic.Int64
}

func (c *countingToken) Open(ctx context.Context, key hsm.SealKey, sealed, aad []byte) ([]byte, error) {
	c.opens.Add(1)
	return c.HSM.Open(ctx, key, sealed, aad)
}

func (c *countingToken) Decrypt(ctx context.Context, id hsm.KeyID, alg hsm.Algorithm, ct []byte) ([]byte, error) {
	c.decrypts.Add(1)
	return c.HSM.Decrypt(ctx, id, alg, ct)
}

func (c *countingToken) ImportAES(ctx context.Context, req hsm.ImportRequest) (hsm.Imported, error) {
	c.decrypts.Add(1)
	return c.HSM.ImportAES(ctx, req)
}

// The cap holds under concurrency: however many bad imports arrive at
// once, the HSM is asked at most cap times per wrapping key, and material
// that decrypts but differs from the key's counts like junk.
func TestFailedDecryptionCapUnderConcurrency(t *testing.T) {
	const limit, n = 10, 200
	var tok *countingToken
	e := newEnv(t, func(o *service.Options) {
		o.MaxDecryptFailures = limit
		tok = &countingToken{HSM: o.Token.(*hsm.HSM)}
		o.Token = tok
	})
	ctx := ctxT(t)
	for _, mix := range []bool{false, true} {
		md, material := e.importNew(t, service.SpecAES256, service.ProtectionSoftware, service.AlgRSAOAEPSHA1)
		p, err := e.svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA1})
		if err != nil {
			t.Fatal(err)
		}
		other := make([]byte, len(material))
		_, _ = rand.Read(other)
		mismatch := wrapMaterial(t, p.PublicKey, service.AlgRSAOAEPSHA1, other)
		before := tok.decrypts.Load()
		var wg sync.WaitGroup
		var notMatch, invalid, refused atomic.Int64
		for i := 0; i < n; i++ {
			ct := make([]byte, 256)
			_, _ = rand.Read(ct)
			if mix && i%2 == 0 {
				ct = mismatch
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken, EncryptedMaterial: ct})
				switch {
				case errors.Is(err, service.KindMaterialNotMatch):
					notMatch.Add(1)
				case errors.Is(err, service.KindInvalidKeyMaterial):
					invalid.Add(1)
				case errors.Is(err, service.KindInvalidImportToken):
					refused.Add(1)
				default:
					t.Errorf("import: %v", err)
				}
			}()
		}
		wg.Wait()
		asked := tok.decrypts.Load() - before
		t.Logf("mix=%v: HSM asked %d times; %d not-match, %d invalid, %d refused", mix, asked, notMatch.Load(), invalid.Load(), refused.Load())
		if asked > limit || notMatch.Load()+invalid.Load() > limit {
			t.Fatalf("mix=%v: %d decryptions in the HSM for a cap of %d", mix, asked, limit)
		}
		if mix && notMatch.Load() == 0 {
			t.Fatal("no MaterialNotMatch in the mix")
		}
		// The original material still imports through a fresh token; the
		// capped one is burnt.
		e.importMaterial(t, md.KeyID, service.AlgRSAOAEPSHA1, material)
		good := wrapMaterial(t, p.PublicKey, service.AlgRSAOAEPSHA1, material)
		if err := e.svc.ImportKeyMaterial(ctx, service.ImportKeyMaterialRequest{KeyID: md.KeyID, ImportToken: p.ImportToken, EncryptedMaterial: good}); !errors.Is(err, service.KindInvalidImportToken) {
			t.Fatalf("capped token: %v", err)
		}
	}
}
