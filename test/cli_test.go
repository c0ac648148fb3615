package test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/pgserver"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/softhsm"
	"github.com/keyport-kms/keyport/store/bolt"
)

var keyportBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test here drives the built binary on real components.
		fmt.Println("test: -short: skipping the end-to-end tests")
		os.Exit(0)
	}
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "keyport-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		keyportBin = filepath.Join(dir, "keyport")
		out, err := exec.Command("go", "build", "-o", keyportBin, "../cmd/keyport").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build keyport: %v\n%s", err, out)
			return 1
		}
		defer pgserver.StopShared()
		return softhsm.Main(m)
	}())
}

type result struct {
	code           int
	stdout, stderr string
}

// keyport runs the built binary with env added to a clean environment
// (PATH and SOFTHSM2_CONF only, so the caller's KEYPORT_* cannot leak in).
func keyport(t testing.TB, env []string, args ...string) result {
	t.Helper()
	return keyportStdin(t, env, nil, args...)
}

// keyportStdin is keyport with stdin.
func keyportStdin(t testing.TB, env []string, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(keyportBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SOFTHSM2_CONF=" + os.Getenv("SOFTHSM2_CONF")}, env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func (r result) expect(t testing.TB, code int, substr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout+r.stderr, substr) {
		t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", r.code, code, substr, r.stdout, r.stderr)
	}
}

// An operator's first session: list slots, make a token, use it, and get
// each mistake explained.
func TestHSMCommands(t *testing.T) {
	softhsm.Require(t)
	module, err := softhsm.FindModule()
	if err != nil {
		t.Fatal(err)
	}
	label := "cli-" + softhsm.RandomPIN()[:8]
	soPIN, pin := softhsm.RandomPIN(), softhsm.RandomPIN()
	mod := "KEYPORT_PKCS11_MODULE=" + module

	keyport(t, []string{mod}, "hsm", "slots").expect(t, 0, "free")
	keyport(t, []string{mod, "KEYPORT_SO_PIN=" + soPIN, "KEYPORT_PIN=" + pin}, "hsm", "init-token", "--label", label).
		expect(t, 0, fmt.Sprintf("initialized token %q", label))
	r := keyport(t, []string{mod}, "hsm", "slots", "--json")
	var slots []hsm.Slot
	if err := json.Unmarshal([]byte(r.stdout), &slots); err != nil {
		t.Fatalf("slots --json: %v\n%s", err, r.stdout)
	}
	found := false
	for _, s := range slots {
		found = found || (s.Label == label && s.Initialized && s.Model == "SoftHSM v2")
	}
	if !found {
		t.Fatalf("new token not listed as initialized: %+v", slots)
	}
	keyport(t, []string{mod, "KEYPORT_SO_PIN=" + soPIN, "KEYPORT_PIN=" + pin}, "hsm", "init-token", "--label", label).
		expect(t, 1, "exists already")

	// A deployment on the token: its master keys and one issued wrapping
	// key pair, made by the service; then look at them and purge the pair.
	dataDir := t.TempDir()
	ctx := context.Background()
	h, err := hsm.Open(ctx, hsm.Config{Module: module, TokenLabel: label, PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Create(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, service.Options{Token: h, Store: st, PoolRSA: -1, PoolSM2: -1, PoolRSALarge: -1, CollectEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	md := must(svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal}))
	must(svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA1}))
	deployment := svc.Deployment()
	svc.Close()
	st.Close()
	h.Close()

	tokenEnv := []string{mod, "KEYPORT_TOKEN_LABEL=" + label, "KEYPORT_PIN=" + pin}
	r = keyport(t, tokenEnv, "hsm", "objects", "--json")
	var objs []hsm.Object
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil || len(objs) != 4 {
		t.Fatalf("objects --json: %v, %d objects\n%s%s", err, len(objs), r.stdout, r.stderr)
	}
	for _, o := range objs {
		if o.Class != "public-key" && (!*o.Sensitive || *o.Extractable || !*o.NeverExtractable) {
			t.Errorf("object %+v is not sensitive and never extractable", o)
		}
	}
	keyport(t, tokenEnv, "hsm", "objects").expect(t, 0, "never-extractable")
	keyport(t, tokenEnv, "hsm", "objects").expect(t, 0, deployment)
	master, pair := "", ""
	for _, o := range objs {
		switch o.Label {
		case "keyport/" + deployment + "/master-seal-v1":
			master = o.ID
		case "keyport/" + deployment + "/wrap-rsa":
			pair = o.ID
		}
	}
	dirEnv := append(tokenEnv, "KEYPORT_DATA_DIR="+dataDir)
	keyport(t, dirEnv, "hsm", "purge", "--id", master).expect(t, 1, "is not a wrapping key of deployment "+deployment)
	keyport(t, tokenEnv, "hsm", "purge", "--id", pair).expect(t, 2, "no data directory")
	keyport(t, dirEnv, "hsm", "purge", "--id", pair).expect(t, 0, "deleted wrapping key "+pair)
	r = keyport(t, tokenEnv, "hsm", "objects", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil || len(objs) != 2 {
		t.Fatalf("after purge: %v, %d objects\n%s", err, len(objs), r.stdout)
	}

	// The same token through a PIN file and through a pkcs11: URI.
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyport(t, []string{mod}, "hsm", "objects", "--token-label", label, "--pin-file", pinFile).expect(t, 0, "master-seal-v1")
	keyport(t, nil, "hsm", "objects", "--pkcs11-uri",
		fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=file:%s", label, module, pinFile)).expect(t, 0, "master-seal-v1")
	// pin-value is taken from the environment, never from a flag (ps shows flags).
	pinURI := fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-value=%s", label, module, pin)
	keyport(t, []string{"KEYPORT_PKCS11_URI=" + pinURI}, "hsm", "objects").expect(t, 0, "master-seal-v1")

	// Mistakes: each explained in one line, with the right exit status, and
	// never echoing a PIN.
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		msg  string
	}{
		{"wrong PIN", []string{mod, "KEYPORT_TOKEN_LABEL=" + label, "KEYPORT_PIN=not-" + pin}, []string{"hsm", "objects"}, 1, `wrong PIN for token "` + label + `"`},
		{"unknown label", []string{mod, "KEYPORT_TOKEN_LABEL=nope", "KEYPORT_PIN=" + pin}, []string{"hsm", "objects"}, 1, `token "nope" not found`},
		{"bad module path", []string{"KEYPORT_PKCS11_MODULE=/nonexistent/lib.so", "KEYPORT_TOKEN_LABEL=" + label, "KEYPORT_PIN=" + pin}, []string{"hsm", "objects"}, 1, "PKCS#11 module /nonexistent/lib.so not found"},
		{"not a library", []string{"KEYPORT_PKCS11_MODULE=/etc/hostname", "KEYPORT_TOKEN_LABEL=" + label, "KEYPORT_PIN=" + pin}, []string{"hsm", "objects"}, 1, "not a PKCS#11 library"},
		{"slots, bad module", []string{"KEYPORT_PKCS11_MODULE=/nonexistent/lib.so"}, []string{"hsm", "slots"}, 1, "not found"},
		{"no module", nil, []string{"hsm", "slots"}, 2, "no PKCS#11 module"},
		{"no PIN", []string{mod, "KEYPORT_TOKEN_LABEL=" + label}, []string{"hsm", "objects"}, 2, "no user PIN"},
		{"no token", []string{mod, "KEYPORT_PIN=" + pin}, []string{"hsm", "objects"}, 2, "no token selected"},
		{"empty PIN file", []string{mod, "KEYPORT_TOKEN_LABEL=" + label}, []string{"hsm", "objects", "--pin-file", "/dev/null"}, 1, "is empty"},
		{"PIN file others may read", []string{mod, "KEYPORT_TOKEN_LABEL=" + label}, []string{"hsm", "objects", "--pin-file", readableFile(t, pin)}, 1, "chmod 600"},
		{"init without label", []string{mod}, []string{"hsm", "init-token"}, 2, "--label is required"},
		{"init without PINs, no terminal", []string{mod}, []string{"hsm", "init-token", "--label", "x"}, 2, "no SO PIN"},
		{"purge without id", tokenEnv, []string{"hsm", "purge"}, 2, "at least one --id"},
		{"unknown flag", nil, []string{"hsm", "objects", "--bogus"}, 2, "flag provided but not defined"},
		{"PIN in a flag", nil, []string{"hsm", "objects", "--pkcs11-uri", fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-value=%s", label, module, pin)}, 2, "pin-value"},
		{"PIN misplaced in a URI", nil, []string{"hsm", "objects", "--pkcs11-uri", fmt.Sprintf("pkcs11:slot-id=%s?module-path=%s", pin, module)}, 2, "slot-id is not a number"},
		{"unknown command", nil, []string{"hsm", "frobnicate"}, 2, `unknown command "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := keyport(t, tc.env, tc.args...)
			r.expect(t, tc.code, tc.msg)
			if strings.Contains(r.stdout+r.stderr, pin) || strings.Contains(r.stdout+r.stderr, soPIN) {
				t.Fatalf("output shows a PIN:\n%s%s", r.stdout, r.stderr)
			}
			if strings.Contains(r.stderr, "CKR_") {
				t.Fatalf("message shows a raw PKCS#11 code: %s", r.stderr)
			}
		})
	}
}

// `hsm purge --expired` destroys the wrapping keys of expired import tokens
// that the service recorded, and what a crash left on the token.
func TestPurgeExpired(t *testing.T) {
	tok := softhsm.New(t)
	dir := t.TempDir()
	ctx := context.Background()
	h, err := hsm.Open(ctx, hsm.Config{Module: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(ctx, service.Options{Token: h, Store: st, PoolRSA: -1, PoolSM2: -1, PoolRSALarge: -1, CollectEvery: -1, ImportTokenTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	md, err := svc.CreateKey(ctx, service.CreateKeyRequest{Origin: service.OriginExternal})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := svc.GetParametersForImport(ctx, service.GetParametersForImportRequest{KeyID: md.KeyID, Spec: service.WrappingRSA2048, Algorithm: service.AlgRSAOAEPSHA256}); err != nil {
			t.Fatal(err)
		}
	}
	// Reserved in the store's ledger and made, never recorded: as after a
	// crash. And one made by a stranger with the deployment's label, never
	// reserved here: purge leaves it alone.
	reserved, err := hsm.NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.OwnObject(ctx, string(reserved), time.Now()); err != nil {
		t.Fatal(err)
	}
	orphan, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport/"+svc.Deployment()+"/wrap-rsa", reserved)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := h.GenerateKeyPair(ctx, hsm.RSA2048, "keyport/"+svc.Deployment()+"/wrap-rsa", "")
	if err != nil {
		t.Fatal(err)
	}
	svc.Close()
	st.Close()
	h.Close()
	time.Sleep(1100 * time.Millisecond)

	env := []string{"KEYPORT_PKCS11_MODULE=" + tok.Module, "KEYPORT_TOKEN_LABEL=" + tok.Label, "KEYPORT_PIN=" + tok.PIN}
	keyport(t, env, "hsm", "purge", "--expired").expect(t, 2, "no data directory")
	keyport(t, env, "hsm", "purge", "--expired", "--id", "x").expect(t, 2, "not both")
	keyport(t, append(env, "KEYPORT_DATA_DIR="+dir), "hsm", "purge", "--expired").expect(t, 0, "destroyed 2 expired wrapping keys, 0 expired key materials, 0 deleted keys, 1 orphaned objects")
	r := keyport(t, env, "hsm", "objects", "--json")
	var objs []hsm.Object
	if err := json.Unmarshal([]byte(r.stdout), &objs); err != nil {
		t.Fatal(err)
	}
	strangerKept := false
	for _, o := range objs {
		if o.ID == string(stranger.ID) {
			strangerKept = true
			continue
		}
		if owner, ok := service.OwnerOf(o.Label); ok && owner.Kind == service.ObjectWrapping {
			t.Errorf("wrapping key %s (%s) survived the purge", o.ID, o.Label)
		}
		if o.ID == string(orphan.ID) {
			t.Errorf("orphan %s survived the purge", o.ID)
		}
	}
	if !strangerKept {
		t.Error("purge destroyed an object no store of this deployment reserved")
	}
}

// Access keys through the CLI, as an operator manages them: through the
// running server's admin socket, and through the store when none runs; and
// what the server then makes of them.
func TestAccessKeyCommands(t *testing.T) {
	defer catch(t)
	s := startServer(t)
	var second struct{ AccessKeyId, AccessKeySecret string }
	r := keyport(t, s.env, "access-key", "create", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &second); err != nil || second.AccessKeySecret == "" {
		t.Fatalf("create while serving: %v\n%s%s", err, r.stdout, r.stderr)
	}
	s2 := *s
	s2.ak = second.AccessKeyId
	use := func(ak, sk string) error {
		s3 := *s
		s3.ak = ak
		c := newV1(t, &s3, sk)
		lk := kms.CreateListKeysRequest()
		c.prep(lk.RpcRequest)
		_, err := c.c.ListKeys(lk)
		return err
	}
	if err := use(second.AccessKeyId, second.AccessKeySecret); err != nil {
		t.Fatalf("a key made while serving does not work at once: %v", err)
	}
	r = keyport(t, s.env, "access-key", "list", "--json")
	if strings.Contains(r.stdout, second.AccessKeySecret) || strings.Contains(r.stdout, s.sk) {
		t.Fatal("list shows a secret")
	}
	var listed []struct{ ID string }
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("list: %v\n%s", err, r.stdout)
	}
	keyport(t, s.env, "access-key", "disable", "--id", second.AccessKeyId).expect(t, 0, "")
	serverError(t, use(second.AccessKeyId, second.AccessKeySecret), 403, "Forbidden.AccessKey")
	keyport(t, s.env, "access-key", "enable", "--id", second.AccessKeyId).expect(t, 0, "")
	if err := use(second.AccessKeyId, second.AccessKeySecret); err != nil {
		t.Fatalf("re-enabled key: %v", err)
	}
	keyport(t, s.env, "access-key", "delete", "--id", "KPAKNOSUCHKEY").expect(t, 1, "not found")
	keyport(t, s.env, "access-key", "disable").expect(t, 2, "give --id")

	// With the server stopped the commands open the store themselves.
	s.stop(t)
	keyport(t, s.env, "access-key", "list").expect(t, 0, second.AccessKeyId)
	keyport(t, s.env, "access-key", "delete", "--id", s.ak).expect(t, 0, "")
	keyport(t, s.env, "access-key", "delete", "--id", s.ak).expect(t, 1, "not found")
	s.start(t)
	serverError(t, use(s.ak, s.sk), 404, "InvalidAccessKeyId.NotFound")
}

// readableFile writes text to a file of mode 0644.
func readableFile(t *testing.T, text string) string {
	return fileWithMode(t, "readable", text, 0o644)
}

// fileWithMode writes text to a file named name of exactly this mode,
// whatever the umask.
func fileWithMode(t *testing.T, name, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}
