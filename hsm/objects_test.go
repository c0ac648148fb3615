package hsm_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
)

// Every private key the layer makes refuses to give up its secret, and a
// tool outside the process (OpenSC's pkcs11-tool) sees it as sensitive and
// never extractable.
func TestPrivateKeysNeverExtractable(t *testing.T) {
	h, tok := openToken(t)
	ctx := ctxT(t)
	rsaKP, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	sm2KP, err := h.GenerateKeyPair(ctx, hsm.SM2, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	master, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "keyport-master-seal", Kind: hsm.AES256})
	if err != nil {
		t.Fatal(err)
	}
	assertUnreadable(t, h, rsaKP.ID, pkcs11.CKA_PRIVATE_EXPONENT)
	assertUnreadable(t, h, rsaKP.ID, pkcs11.CKA_PRIME_1)
	assertUnreadable(t, h, sm2KP.ID, pkcs11.CKA_VALUE)
	assertUnreadable(t, h, master, pkcs11.CKA_VALUE)

	objs, err := h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, o := range objs {
		seen[o.ID]++
		if o.Class == "private-key" || o.Class == "secret-key" {
			if !*o.Sensitive || *o.Extractable || !*o.NeverExtractable || !*o.AlwaysSensitive {
				t.Errorf("%s %s (%s): sensitive=%v extractable=%v never-extractable=%v always-sensitive=%v",
					o.Class, o.ID, o.Label, *o.Sensitive, *o.Extractable, *o.NeverExtractable, *o.AlwaysSensitive)
			}
		}
	}
	if seen[string(rsaKP.ID)] != 2 || seen[string(sm2KP.ID)] != 2 || seen[string(master)] != 1 {
		t.Fatalf("objects by id: %v", seen)
	}
	h.Close()

	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		t.Fatal("pkcs11-tool (opensc) is needed for this test; make test installs it")
	}
	out, err := exec.Command(tool, "--module", tok.Module, "--token-label", tok.Label,
		"--login", "--pin", tok.PIN, "-O").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool -O: %v\n%s", err, out)
	}
	// pkcs11-tool prints one block per object: a header line starting in
	// the first column, then indented attribute lines.
	var blocks []string
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && line[0] != ' ' {
			blocks = append(blocks, "")
		}
		if len(blocks) > 0 {
			blocks[len(blocks)-1] += line + "\n"
		}
	}
	keys := 0
	for _, b := range blocks {
		if !strings.Contains(b, "Private Key Object") && !strings.Contains(b, "Secret Key Object") {
			continue
		}
		keys++
		if !strings.Contains(b, "never extractable") || !strings.Contains(b, "sensitive") {
			t.Errorf("pkcs11-tool shows a key that is not sensitive and never extractable:\n%s", b)
		}
	}
	if keys != 3 {
		t.Fatalf("pkcs11-tool listed %d private/secret keys, want 3:\n%s", keys, out)
	}
}

func TestDelete(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	kp, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport-test-wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, h)
	if err := h.Delete(ctx, kp.ID); err != nil {
		t.Fatal(err)
	}
	if after := countObjects(t, h); after != before-2 {
		t.Fatalf("objects %d → %d, want both halves gone", before, after)
	}
	if _, err := h.Decrypt(ctx, kp.ID, hsm.RSAOAEPSHA1, make([]byte, 256)); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("decrypt with deleted key: %v, want ErrNotFound", err)
	}
	if err := h.Delete(ctx, kp.ID); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if err := h.Delete(ctx, "not-hex"); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("malformed id: %v, want ErrNotFound", err)
	}
}
