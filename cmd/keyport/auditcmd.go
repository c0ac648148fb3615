package main

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/audit"
	"github.com/keyport-kms/keyport/hsm"
)

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "work with the audit log",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "check that audit log files, oldest first, are the chain Keyport wrote: no line changed, inserted, removed or reordered, no tail cut off (needs the token for the checkpoints' MACs, never the store)",
			ArgsUsage: "FILE…",
			Flags: append(tokenFlags(),
				&cli.BoolFlag{Name: "live", Usage: "the last file is a running server's: its last lines need no closing checkpoint yet"},
				&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			),
			Action: auditVerify,
		}},
	}
}

// errTampered makes the exit status 1 without repeating the report.
var errTampered = errors.New("the audit log does not verify")

func auditVerify(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("give the audit log files, oldest first")
	}
	h, err := openAdmin(c)
	if err != nil {
		return err
	}
	defer h.Close()
	keys := map[string]hsm.KeyID{}
	check := func(ctx context.Context, key string, data, mac []byte) (bool, error) {
		id, ok := keys[key]
		if !ok {
			id, err = h.SecretKey(ctx, hsm.SecretKeyRequest{ID: hsm.KeyID(key), Kind: hsm.HMACSHA256})
			if errors.Is(err, hsm.ErrNotFound) {
				return false, nil // no such key on this token: the MAC cannot hold
			}
			if err != nil {
				return false, err
			}
			keys[key] = id
		}
		want, err := h.MAC(ctx, id, data)
		return err == nil && hmac.Equal(want, mac), err
	}
	r, err := audit.Verify(c.Context, c.Args().Slice(), check, c.Bool("live"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintln(c.App.Writer, string(out))
	} else {
		for _, f := range r.Findings {
			kind := "TAMPERED"
			if !f.Tampered {
				kind = "fault"
			}
			fmt.Fprintf(c.App.Writer, "%s %s:%d: %s\n", kind, f.File, f.Line, f.Problem)
		}
		fmt.Fprintf(c.App.Writer, "%d files, %d lines, %d checkpoints verified; %d lines after the last checkpoint\n", r.Files, r.Lines, r.Checkpoints, r.Unauthenticated)
	}
	if !r.OK() {
		return errTampered
	}
	return nil
}
