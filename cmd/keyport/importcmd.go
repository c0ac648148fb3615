package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/asymkey"
	"github.com/keyport-kms/keyport/client"
	"github.com/keyport-kms/keyport/client/byok"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "import your key material into a key (BYOK) of Keyport or of the cloud KMS it imitates: GetParametersForImport, wrap here, ImportKeyMaterial",
		Flags: append(endpointFlags(),
			&cli.StringFlag{Name: "key-id", Usage: "the EXTERNAL key to import into", Required: true},
			&cli.StringFlag{Name: "material", Usage: "file of the raw key material (32 bytes for AES-256, 16 for SM4), or of an asymmetric private key in PEM (PKCS#8, PKCS#1 or SEC 1); - reads stdin", Required: true},
			&cli.StringFlag{Name: "wrapping-key-spec", Usage: "RSA_2048, RSA_3072, RSA_4096 or EC_SM2 (default: what --wrapping-algorithm needs, else RSA_2048)"},
			&cli.StringFlag{Name: "wrapping-algorithm", Usage: "RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSAES_PKCS1_V1_5, SM2PKE, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1; for a private key RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD, SM2PKE_SM4_ECB or RSA_AES_KEY_WRAP_SHA_* (default: RSAES_OAEP_SHA_256, or SM2PKE for EC_SM2; for a private key Alibaba Cloud's envelope for it)"},
			&cli.Int64Flag{Name: "expires", Usage: "Unix time at which the material expires (default: never)"},
		),
		Action: importMaterial,
	}
}

// importMaterial runs the BYOK flow. The material is read into memory once,
// wiped after the wrap, and never printed; a refusal ends with exit 1 and
// the server's code and message.
func importMaterial(c *cli.Context) error {
	cl, err := newClient(c) // first: the channel and credentials are checked before any material is read
	if err != nil {
		return err
	}
	material, err := readMaterial(c.String("material"), c.App.Reader)
	if err != nil {
		return err
	}
	defer wipe(material)
	what, alg := fmt.Sprintf("%d bytes of key material", len(material)), c.String("wrapping-algorithm")
	if bytes.HasPrefix(bytes.TrimSpace(material), []byte("-----BEGIN")) {
		k, err := asymkey.ParsePEM(material)
		if err != nil {
			return usagef("--material: %v", err)
		}
		der, err := k.MarshalPKCS8()
		k.Wipe()
		if err != nil {
			return err
		}
		wipe(material)
		material = der
		what = "a " + k.Spec().String() + " private key"
		if alg == "" { // Alibaba Cloud's envelope for the key's kind
			alg = map[bool]string{true: "SM2PKE_SM4_ECB", false: "RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD"}[k.Spec() == asymkey.SM2]
		}
	} else if _, ok := byok.PrivateKeyAlgorithms[alg]; ok && !strings.HasPrefix(alg, "RSA_AES_KEY_WRAP") {
		return usagef("--wrapping-algorithm %s carries private keys: give --material a PEM private key", alg)
	}
	spec, alg, err := wrappingChoice(c.String("wrapping-key-spec"), alg)
	if err != nil {
		return err
	}
	var expires time.Time
	if e := c.Int64("expires"); e > 0 {
		expires = time.Unix(e, 0)
	}
	id := c.String("key-id")
	if err := cl.Import(c.Context, id, spec, alg, material, expires); err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) {
			return fmt.Errorf("import into %s refused: %s: %s (request %s)", id, ae.Code, ae.Message, ae.RequestID)
		}
		return fmt.Errorf("import into %s: %w", id, err)
	}
	state, err := cl.KeyState(c.Context, id)
	if err != nil {
		return fmt.Errorf("imported, but DescribeKey failed: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "imported %s into %s with %s/%s; key state: %s\n", what, id, spec, alg, state)
	return nil
}

// wrappingChoice fills in the spec or algorithm the other implies.
func wrappingChoice(spec, alg string) (string, string, error) {
	switch {
	case alg == "" && spec == "EC_SM2":
		alg = "SM2PKE"
	case alg == "":
		alg = "RSAES_OAEP_SHA_256"
	}
	specs := byok.Specs(alg)
	if specs == nil {
		return "", "", usagef("--wrapping-algorithm %q: give RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSAES_PKCS1_V1_5, SM2PKE, RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1", alg)
	}
	if spec == "" {
		spec = specs[0]
	}
	if !slices.Contains(specs, spec) {
		return "", "", usagef("--wrapping-algorithm %s goes with --wrapping-key-spec %s, not %s", alg, strings.Join(specs, " or "), spec)
	}
	return spec, alg, nil
}

// maxMaterial bounds what --material reads: an RSA-4096 private key in
// PEM is about 3.3 KB.
const maxMaterial = 16 << 10

// readMaterial reads at most 16 KiB of material from a file or stdin.
func readMaterial(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("key material: %w", err)
		}
		defer f.Close()
		r = f
	}
	buf := make([]byte, maxMaterial+1)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		wipe(buf)
		return nil, fmt.Errorf("key material: %w", err)
	}
	if n == 0 || n > maxMaterial {
		wipe(buf)
		return nil, errors.New("key material: want the raw material (32 bytes for AES-256, 16 for SM4) or a PEM private key, at most 16 KiB")
	}
	return buf[:n:n], nil
}

func wipe(b []byte) { clear(b) }
