package test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/softhsm"
)

// tokenObjects lists the token's objects by the deployment their label names.
func tokenObjects(t *testing.T, env []string) map[string][]hsm.Object {
	t.Helper()
	r := keyport(t, env, "hsm", "objects", "--json")
	var objs []hsm.Object
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &objs) != nil {
		t.Fatalf("hsm objects: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := map[string][]hsm.Object{}
	for _, o := range objs {
		if owner, ok := service.OwnerOf(o.Label); ok {
			out[owner.Deployment] = append(out[owner.Deployment], o)
		}
	}
	return out
}

// encryptedData makes an HSM-level and a SOFTWARE-level BYOK key through
// the SDK, encrypts with each, leaves an import token issued, and returns
// the ciphertexts.
func encryptedData(t *testing.T, s *server) []string {
	c := newV1(t, s, s.sk)
	var blobs []string
	for _, level := range []string{"HSM", "SOFTWARE"} {
		id, _ := c.byok(level, "RSAES_OAEP_SHA_256")
		enc := kms.CreateEncryptRequest()
		c.prep(enc.RpcRequest)
		enc.KeyId, enc.Plaintext = id, "cGxhaW50ZXh0"
		blobs = append(blobs, must(c.c.Encrypt(enc)).CiphertextBlob)
	}
	if err := c.sm2Parameters(); err != nil { // leaves an import token issued
		t.Fatal(err)
	}
	return blobs
}

func decryptAll(t *testing.T, s *server, blobs []string) {
	t.Helper()
	c := newV1(t, s, s.sk)
	for _, b := range blobs {
		dec := kms.CreateDecryptRequest()
		c.prep(dec.RpcRequest)
		dec.CiphertextBlob = b
		if got := must(c.c.Decrypt(dec)).Plaintext; got != "cGxhaW50ZXh0" {
			t.Fatalf("decrypt: %q", got)
		}
	}
}

// Two deployments on one token. Every command of one, run right or with a
// mistyped data directory, leaves the other's token objects and data
// intact; a mistyped directory fails in one line and is not created.
func TestTwoDeploymentsOnOneToken(t *testing.T) {
	defer catch(t)
	tok := softhsm.New(t)
	a := startServerOn(t, tok, "--log-level", "debug") // as the README lists it; the log must still show no secret
	blobsA := encryptedData(t, a)
	a.stop(t)
	b := startServerOn(t, tok)
	blobsB := encryptedData(t, b)
	b.stop(t)

	depA, depB := a.deployment(t), b.deployment(t)
	byDeployment := tokenObjects(t, a.env)
	if len(byDeployment) != 2 || len(byDeployment[depA]) == 0 || len(byDeployment[depB]) == 0 {
		t.Fatalf("objects by deployment, want %s and %s: %v", depA, depB, byDeployment)
	}
	// Naming another deployment beside a data directory is refused: only a
	// deployment's own store can tell its orphans.
	keyport(t, a.env, "hsm", "purge", "--orphans", "--deployment", depB, "--yes").expect(t, 1, "holds deployment "+depA+", not "+depB)
	before := map[string]bool{}
	for _, o := range byDeployment[depB] {
		before[o.ID] = true
	}

	typo := a.dir + "-typo"
	typoEnv := append(append([]string{}, a.env[:3]...), "KEYPORT_DATA_DIR="+typo)
	for _, args := range [][]string{
		{"access-key", "list"},
		{"access-key", "create"},
		{"access-key", "disable", "--id", "KPAKX"},
		{"access-key", "delete", "--id", "KPAKX"},
		{"hsm", "purge", "--expired"},
		{"hsm", "purge", "--id", "00"},
		{"hsm", "purge", "--orphans", "--deployment", depA, "--yes"},
	} {
		keyport(t, typoEnv, args...).expect(t, 1, "no Keyport store in "+typo)
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%v made the mistyped directory", args)
		}
	}
	// A's own commands, each of which opens A's store and the token.
	keyport(t, a.env, "access-key", "list").expect(t, 0, a.ak)
	keyport(t, a.env, "access-key", "create").expect(t, 0, "AccessKeyId")
	keyport(t, a.env, "hsm", "purge", "--expired").expect(t, 0, "0 orphaned objects")
	keyport(t, a.env, "hsm", "purge", "--orphans", "--deployment", depA, "--yes").expect(t, 0, "no orphaned objects")
	keyport(t, a.env, "hsm", "purge", "--orphans", "--deployment", "legacy", "--yes").expect(t, 0, "no orphaned objects")
	for _, o := range byDeployment[depB] {
		keyport(t, a.env, "hsm", "purge", "--id", o.ID).expect(t, 1, "is not a wrapping key of deployment "+depA)
	}
	a.start(t) // reconciles at start-up
	decryptAll(t, a, blobsA)
	a.stop(t)

	after := map[string]bool{}
	for _, o := range tokenObjects(t, a.env)[depB] {
		after[o.ID] = true
	}
	if len(after) != len(before) {
		t.Fatalf("deployment B had %d object ids, now %d", len(before), len(after))
	}
	for id := range after {
		if !before[id] {
			t.Fatalf("B's objects changed: %s", id)
		}
	}
	b.start(t)
	decryptAll(t, b, blobsB)
	b.stop(t)

	// An operator retiring B with its store gone destroys B's objects only,
	// after listing them; without --yes (and no terminal) nothing goes.
	r := keyport(t, b.env[:3], "hsm", "purge", "--orphans", "--deployment", depB)
	r.expect(t, 1, "nothing destroyed: run again with --yes")
	if !strings.Contains(r.stdout, depB) || len(tokenObjects(t, a.env)[depB]) == 0 {
		t.Fatalf("a purge without --yes listed or destroyed wrongly:\n%s", r.stdout)
	}
	keyport(t, b.env[:3], "hsm", "purge", "--orphans", "--deployment", depB, "--yes").expect(t, 0, "destroyed")
	left := tokenObjects(t, a.env)
	if len(left[depB]) != 0 || len(left[depA]) == 0 {
		t.Fatalf("after retiring B: %d of B's and %d of A's objects", len(left[depB]), len(left[depA]))
	}
	a.start(t)
	decryptAll(t, a, blobsA)
}

// deployment reads the deployment id from the server's start-up log line.
func (s *server) deployment(t testing.TB) string {
	t.Helper()
	_, rest, ok := strings.Cut(s.stderr.String(), "deployment=")
	if !ok || len(rest) < 16 {
		t.Fatalf("no deployment in the server's log:\n%s", s.stderr)
	}
	return rest[:16]
}
