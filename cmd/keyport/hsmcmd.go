package main

import (
	"fmt"
	"os"
	"strings"
	"time"

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
				Name:   "selftest",
				Usage:  "check a token before deploying: the probe, then a full round trip of every feature on throwaway keys, timed beside the bare mechanisms; exit 0 only if every enabled feature works",
				Flags:  append(tokenFlags(), &cli.BoolFlag{Name: "json"}),
				Action: hsmSelfTest,
			},
			{
				Name:  "purge",
				Usage: "destroy this deployment's wrapping key pairs by id, what has expired (--expired), or the objects no store refers to (--orphans)",
				Flags: append(append(tokenFlags(), append(storeFlags(), auditFlag())...),
					&cli.StringSliceFlag{Name: "id", Usage: "id of one of this deployment's wrapping key pairs to destroy (repeatable)"},
					&cli.BoolFlag{Name: "expired", Usage: "destroy what has expired: wrapping keys of expired import tokens, expired key material, keys past their deletion date, and this deployment's objects a crash left behind"},
					&cli.BoolFlag{Name: "orphans", Usage: "destroy the objects of --deployment that no store refers to, after listing them"},
					&cli.StringFlag{Name: "deployment", Usage: "with --orphans: a deployment id (see `keyport hsm objects`), or \"legacy\" for objects made before deployment ids"},
					&cli.BoolFlag{Name: "yes", Usage: "with --orphans: destroy without asking"}),
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
		owner := "-"
		if ow, ok := service.OwnerOf(o.Label); ok {
			owner = ow.Deployment
		}
		rows = append(rows, []string{o.ID, o.Class, o.KeyType, owner, o.Label, flagWords(o)})
	}
	return output(c, objs, []string{"ID", "CLASS", "TYPE", "DEPLOYMENT", "LABEL", "FLAGS"}, rows)
}

func hsmSelfTest(c *cli.Context) error {
	cfg, err := hsmConfig(c)
	if err != nil {
		return err
	}
	h, err := hsm.Open(c.Context, cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	rows, err := h.SelfTest(c.Context)
	if err != nil {
		return err
	}
	failed := 0
	var table [][]string
	ms := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000)
	}
	for _, r := range rows {
		result, ratio := "ok", "-"
		switch {
		case r.Skipped:
			result = "disabled"
		case !r.OK:
			result, failed = "FAILED: "+r.Error, failed+1
		}
		if r.Raw > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.Layer)/float64(r.Raw))
		}
		table = append(table, []string{r.Feature, r.Path, result, ms(r.Layer), ms(r.Raw), ratio})
	}
	if err := output(c, rows, []string{"FEATURE", "PATH", "RESULT", "KEYPORT", "BARE MECHANISM", "RATIO"}, table); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("self-test: %d feature(s) failed on this token", failed)
	}
	return nil
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

// hsmPurge runs one of the purges, recorded in the audit log.
func hsmPurge(c *cli.Context) error {
	action := "HsmPurgeIDs"
	switch {
	case c.Bool("orphans"):
		action = "HsmPurgeOrphans"
	case c.Bool("expired"):
		action = "HsmPurgeExpired"
	}
	return adminAction(c, c.String("audit-log"), action, func() (string, error) { return c.String("deployment"), purge(c) })
}

func purge(c *cli.Context) error {
	ids := c.StringSlice("id")
	modes := 0
	for _, on := range []bool{len(ids) > 0, c.Bool("expired"), c.Bool("orphans")} {
		if on {
			modes++
		}
	}
	switch {
	case modes == 0:
		return usagef("purge: give at least one --id (see `keyport hsm objects`), --expired or --orphans")
	case modes > 1:
		return usagef("purge: give --id, --expired or --orphans, not both")
	case c.Bool("orphans"):
		return purgeOrphans(c)
	case c.Bool("expired"):
		return purgeExpired(c)
	}
	st, err := openAdminStack(c)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, id := range ids {
		if err := st.svc.PurgeWrappingKey(c.Context, id); err != nil {
			return fmt.Errorf("purge %s: %w; nothing destroyed from here on", id, err)
		}
		fmt.Fprintf(c.App.Writer, "deleted wrapping key %s\n", id)
	}
	return nil
}

// purgeOrphans destroys the objects of one deployment that no store refers
// to: this deployment's own (with its --data-dir), a deployment whose store
// is gone (every object it labelled), or, as "legacy", objects made before
// deployment ids that the given store does not adopt. It lists them first
// and destroys only with --yes or a yes on a terminal.
func purgeOrphans(c *cli.Context) error {
	dep := c.String("deployment")
	if dep == "" {
		return usagef("purge --orphans: give --deployment ID (see `keyport hsm objects`), or --deployment legacy")
	}
	var doomed []hsm.Object
	var h *hsm.HSM
	if storeGiven(c) {
		st, err := openAdminStack(c)
		if err != nil {
			return err
		}
		defer st.Close()
		orphans, objs, err := st.svc.Orphans(c.Context)
		if err != nil {
			return err
		}
		switch dep {
		case st.svc.Deployment():
			doomed = orphans
			for _, o := range objs.Unowned {
				fmt.Fprintf(c.App.Writer, "left alone (this deployment's, but not made by this store; another store of the deployment may use it): %s  %s\n", o.ID, o.Label)
			}
		case service.LegacyDeployment:
			doomed = objs.LegacyOrphans
		default:
			// Another deployment's store may be alive elsewhere: only its
			// own store can say which of its objects are orphans.
			return fmt.Errorf("purge --orphans: %s holds deployment %s, not %s; nothing destroyed (name a deployment without --data-dir only when its store is gone)",
				c.String("data-dir"), st.svc.Deployment(), dep)
		}
		h = st.hsm
	} else {
		var err error
		if h, err = openAdmin(c); err != nil {
			return err
		}
		defer h.Close()
	}
	if !storeGiven(c) {
		// A deployment whose store is not here: every object it labelled.
		objs, err := h.Objects(c.Context)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, o := range objs {
			if owner, ok := service.OwnerOf(o.Label); ok && owner.Deployment == dep && !seen[o.ID] &&
				(dep != service.LegacyDeployment || owner.Kind != service.ObjectMaster) {
				seen[o.ID] = true
				doomed = append(doomed, o)
			}
		}
	}
	if len(doomed) == 0 {
		fmt.Fprintf(c.App.Writer, "no orphaned objects of deployment %s\n", dep)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "objects of deployment %s that no store here refers to:\n", dep)
	for _, o := range doomed {
		fmt.Fprintf(c.App.Writer, "  %s  %s  %s\n", o.ID, o.Class, o.Label)
	}
	if !c.Bool("yes") && !confirm(c, fmt.Sprintf("destroy these %d objects for good? [y/N] ", len(doomed))) {
		return fmt.Errorf("nothing destroyed: run again with --yes to destroy these %d objects", len(doomed))
	}
	for _, o := range doomed {
		if err := h.Delete(c.Context, hsm.KeyID(o.ID)); err != nil {
			return fmt.Errorf("destroy %s: %w", o.ID, err)
		}
		fmt.Fprintf(c.App.Writer, "destroyed %s (%s)\n", o.ID, o.Label)
	}
	return nil
}

// purgeExpired runs the service's collector once, with no pool, and
// destroys this deployment's objects that a crash left unrecorded.
func purgeExpired(c *cli.Context) error {
	st, err := openAdminStack(c)
	if err != nil {
		return err
	}
	defer st.Close()
	stats, err := st.svc.Collect(c.Context)
	if err != nil {
		return err
	}
	orphans, err := st.svc.PurgeOrphans(c.Context)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "destroyed %d expired wrapping keys, %d expired key materials, %d deleted keys, %d orphaned objects\n",
		stats.WrappingKeys, stats.Materials, stats.Keys, orphans)
	return nil
}
