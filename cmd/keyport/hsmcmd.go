package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
)

func hsmCommand() *cli.Command {
	return &cli.Command{
		Name:  "hsm",
		Usage: "manage PKCS#11 token slots and the objects Keyport keeps on them",
		Subcommands: []*cli.Command{
			{
				Name:   "slots",
				Usage:  "list slots with their token label, serial, model and state",
				Flags:  []cli.Flag{tokenFlags()[0], &cli.BoolFlag{Name: "json"}},
				Action: hsmSlots,
			},
			{
				Name:  "init-token",
				Usage: "initialise a free token (SO PIN from KEYPORT_SO_PIN, user PIN from KEYPORT_PIN, or files, or prompted)",
				Flags: []cli.Flag{
					tokenFlags()[0],
					&cli.StringFlag{Name: "label", Usage: "label of the new token"},
					&cli.UintFlag{Name: "slot", Usage: "slot to initialise (default: the first free one)"},
					&cli.StringFlag{Name: "so-pin-file", EnvVars: []string{"KEYPORT_SO_PIN_FILE"}, Usage: "file holding the SO PIN"},
					&cli.StringFlag{Name: "pin-file", EnvVars: []string{"KEYPORT_PIN_FILE"}, Usage: "file holding the user PIN"},
				},
				Action: hsmInitToken,
			},
			{
				Name:   "objects",
				Usage:  "list the token's objects with their flags (never their values)",
				Flags:  append(tokenFlags(), &cli.BoolFlag{Name: "json"}),
				Action: hsmObjects,
			},
			{
				Name:  "purge",
				Usage: "delete wrapping key pairs by id, or every expired one with --expired",
				Flags: append(tokenFlags(),
					&cli.StringSliceFlag{Name: "id", Usage: "id of a wrapping key pair to delete (repeatable)"},
					&cli.BoolFlag{Name: "expired", Usage: "destroy what has expired: wrapping keys of expired import tokens, expired key material, keys past their deletion date, and objects a crash left behind (needs --data-dir; run with the server stopped)"},
					dataDirFlag()),
				Action: hsmPurge,
			},
		},
	}
}

func hsmSlots(c *cli.Context) error {
	module, err := moduleFrom(c)
	if err != nil {
		return err
	}
	slots, err := hsm.Slots(module)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, s := range slots {
		state := "free"
		if s.Initialized {
			state = "initialized"
		}
		rows = append(rows, []string{fmt.Sprint(s.ID), s.Label, s.Serial, s.Model, state})
	}
	return output(c, slots, []string{"SLOT", "LABEL", "SERIAL", "MODEL", "STATE"}, rows)
}

func hsmInitToken(c *cli.Context) error {
	module, err := moduleFrom(c)
	if err != nil {
		return err
	}
	label := c.String("label")
	if label == "" {
		return usagef("init-token: --label is required")
	}
	if len(label) > 32 {
		return usagef("init-token: --label is at most 32 characters")
	}
	soPIN, err := secret(c, "so-pin-file", "KEYPORT_SO_PIN", "SO PIN")
	if err != nil {
		return err
	}
	userPIN, err := secret(c, "pin-file", "KEYPORT_PIN", "user PIN")
	if err != nil {
		return err
	}
	var slot *uint
	if c.IsSet("slot") {
		s := c.Uint("slot")
		slot = &s
	}
	got, err := hsm.InitToken(module, slot, label, soPIN, userPIN)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "initialized token %q in slot %d\n", label, got)
	return nil
}

// secret reads a PIN from a file flag, then an environment variable, then a
// prompt without echo when stdin is a terminal.
func secret(c *cli.Context, fileFlag, env, what string) (string, error) {
	if f := c.String(fileFlag); f != "" {
		return hsm.ReadPINFile(f)
	}
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usagef("no %s: set %s or --%s", what, env, fileFlag)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s: ", what)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "%s again: ", what)
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", what, err)
	}
	if string(first) != string(second) || len(first) == 0 {
		return "", fmt.Errorf("the two %ss differ or are empty", what)
	}
	return string(first), nil
}

// openAdmin opens the token for a listing or deletion: no capability probe.
func openAdmin(c *cli.Context) (*hsm.HSM, error) {
	cfg, err := hsmConfig(c)
	if err != nil {
		return nil, err
	}
	cfg.SkipProbe = true
	return hsm.Open(c.Context, cfg)
}

func hsmObjects(c *cli.Context) error {
	h, err := openAdmin(c)
	if err != nil {
		return err
	}
	defer h.Close()
	objs, err := h.Objects(c.Context)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, o := range objs {
		rows = append(rows, []string{o.ID, o.Class, o.KeyType, o.Label, flagWords(o)})
	}
	return output(c, objs, []string{"ID", "CLASS", "TYPE", "LABEL", "FLAGS"}, rows)
}

func flagWords(o hsm.Object) string {
	var words []string
	add := func(p *bool, yes, no string) {
		if p == nil {
			return
		}
		if *p {
			words = append(words, yes)
		} else if no != "" {
			words = append(words, no)
		}
	}
	add(o.Sensitive, "sensitive", "NOT-sensitive")
	add(o.Extractable, "EXTRACTABLE", "")
	add(o.NeverExtractable, "never-extractable", "")
	add(o.AlwaysSensitive, "always-sensitive", "")
	return strings.Join(words, ",")
}

func hsmPurge(c *cli.Context) error {
	ids := c.StringSlice("id")
	if c.Bool("expired") {
		if len(ids) > 0 {
			return usagef("purge: give --id or --expired, not both")
		}
		return purgeExpired(c)
	}
	if len(ids) == 0 {
		return usagef("purge: give at least one --id (see `keyport hsm objects`) or --expired")
	}
	h, err := openAdmin(c)
	if err != nil {
		return err
	}
	defer h.Close()
	ctx := c.Context
	wrapping, err := wrappingKeyIDs(ctx, h)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !wrapping[id] {
			return fmt.Errorf("purge: %s is not a Keyport wrapping key on this token; nothing deleted from here on", id)
		}
		if err := h.Delete(ctx, hsm.KeyID(id)); err != nil {
			return fmt.Errorf("purge %s: %w", id, err)
		}
		fmt.Fprintf(c.App.Writer, "deleted wrapping key %s\n", id)
	}
	return nil
}

func wrappingKeyIDs(ctx context.Context, h *hsm.HSM) (map[string]bool, error) {
	objs, err := h.Objects(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, o := range objs {
		if o.IsWrappingKey() {
			out[o.ID] = true
		}
	}
	return out, nil
}

// output prints v as JSON with --json, else rows as a table under header.
func output(c *cli.Context, v any, header []string, rows [][]string) error {
	if c.Bool("json") {
		return writeJSON(c, v)
	}
	w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

func writeJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// purgeExpired runs the service's collector once, with no pool.
func purgeExpired(c *cli.Context) error {
	cfg, err := hsmConfig(c)
	if err != nil {
		return err
	}
	st, err := openStack(c.Context, cfg, c.String("data-dir"), service.Options{PoolRSA: -1, PoolSM2: -1, CollectEvery: -1})
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := st.svc.Collect(c.Context)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "destroyed %d expired wrapping keys, %d expired key materials, %d deleted keys\n",
		stats.WrappingKeys, stats.Materials, stats.Keys)
	return nil
}
