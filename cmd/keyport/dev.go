package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/softhsm"
)

// devEnv is `serve --dev`'s working directory: a SoftHSM2 token directory,
// the token's PIN, the data directory and the dev access key's id. It is for
// a laptop: the PIN sits in a 0600 file beside the token, which no
// production set-up may do.
type devEnv struct {
	root string
}

const devDir = ".keyport-dev"
const devTokenLabel = "keyport-dev"

func prepareDev(c *cli.Context) (*devEnv, error) {
	root, err := filepath.Abs(devDir)
	if err != nil {
		return nil, err
	}
	d, err := softhsm.NewDir(filepath.Join(root, "softhsm"))
	if err != nil {
		return nil, err
	}
	d.Activate()
	module, err := softhsm.FindModule()
	if err != nil {
		return nil, err
	}
	pinFile := filepath.Join(root, "pin")
	if _, err := os.Stat(pinFile); errors.Is(err, os.ErrNotExist) {
		tok, err := d.NewToken(devTokenLabel)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	// On a laptop nobody needs the per-key rate limit, and `keyport bench`
	// would only measure it.
	for flag, value := range map[string]string{
		"module": module, "token-label": devTokenLabel, "pin-file": pinFile, "data-dir": filepath.Join(root, "data"),
		"rate-limit": "0",
	} {
		if !c.IsSet(flag) {
			if err := c.Set(flag, value); err != nil {
				return nil, err
			}
		}
	}
	return &devEnv{root: root}, nil
}

// announce makes the dev access key on first run and prints how to call
// the server with it.
func (d *devEnv) announce(ctx context.Context, c *cli.Context, svc *service.Service, scheme, addr string) error {
	idFile := filepath.Join(d.root, "access-key-id")
	idBytes, err := os.ReadFile(idFile)
	id := strings.TrimSpace(string(idBytes))
	if errors.Is(err, os.ErrNotExist) {
		ak, err := svc.CreateAccessKey(ctx)
		if err != nil {
			return err
		}
		id = ak.AccessKeyID
		if err := os.WriteFile(idFile, []byte(id+"\n"), 0o600); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	secret, err := svc.AccessKeySecret(ctx, id)
	if err != nil {
		return fmt.Errorf("dev access key %s: %w (remove %s to start afresh)", id, err, d.root)
	}
	defer clear(secret)
	fmt.Fprintf(c.App.Writer, `Keyport dev server on %[1]s://%[2]s (SoftHSM2 token %[3]q in %[4]s)

  AccessKeyId:     %[5]s
  AccessKeySecret: %[6]s

Alibaba Cloud Go SDK (github.com/aliyun/alibaba-cloud-sdk-go/services/kms):

  client, _ := kms.NewClientWithAccessKey("cn-hangzhou", "%[5]s", "%[6]s")
  req := kms.CreateCreateKeyRequest()
  req.Scheme, req.Domain = "%[1]s", "%[2]s"
  req.Origin, req.ProtectionLevel = "EXTERNAL", "HSM"
  resp, err := client.CreateKey(req)

Health: curl %[1]s://%[2]s/readyz    Stop: Ctrl-C    Start afresh: rm -rf %[4]s
`, scheme, addr, devTokenLabel, d.root, id, secret)
	return nil
}
