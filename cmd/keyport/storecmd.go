package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
	"github.com/keyport-kms/keyport/store/postgres"
)

func storeCommand() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "work on Keyport's store itself",
		Subcommands: []*cli.Command{{
			Name:  "migrate",
			Usage: "copy an embedded (bbolt) store into an empty PostgreSQL database, for replicas; the source is then retired: no command opens it again (see store unretire)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Usage: "data directory of the embedded store (stop its server first)", Required: true},
				&cli.StringFlag{Name: "to", Usage: "postgres:// URL of an empty database (else KEYPORT_STORE, or store in the config file); keep its password out of the flag", EnvVars: []string{"KEYPORT_STORE"}},
				auditFlag(),
			},
			Action: func(c *cli.Context) error {
				return adminAction(c, c.String("audit-log"), "StoreMigrate", func() (string, error) { return storeMigrate(c) })
			},
		}, storeBackupCommand(), storeRestoreCommand(), {
			Name:   "verify",
			Usage:  "check the store against its token without changing either: every record reads, every sealed secret and sealed material opens in the HSM, every token object a record names exists; the deployment's objects no record names are listed, never destroyed (stop an embedded store's server first; a PostgreSQL store may be live)",
			Flags:  append(append(tokenFlags(), storeFlags()...), &cli.BoolFlag{Name: "json", Usage: "print the report as JSON"}),
			Action: storeVerify,
		}, {
			Name:  "unretire",
			Usage: "make a retired embedded store usable again, to roll a migration back on purpose (stop the replicas first: both would make and destroy objects of one deployment)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "data-dir", EnvVars: []string{"KEYPORT_DATA_DIR"}, Usage: "data directory of the retired store", Required: true},
				&cli.BoolFlag{Name: "yes", Usage: "confirm that no replica of the deployment runs any more"},
				auditFlag(),
			},
			Action: func(c *cli.Context) error {
				return adminAction(c, c.String("audit-log"), "StoreUnretire", func() (string, error) { return "", storeUnretire(c) })
			},
		}},
	}
}

// storeUnretire clears the retired mark, once the operator confirms.
func storeUnretire(c *cli.Context) error {
	st, err := bolt.Open(c.String("data-dir"))
	if err != nil {
		return err
	}
	defer st.Close()
	was, err := st.Meta(c.Context, store.MetaRetired)
	if err != nil {
		return err
	}
	if was == "" {
		return fmt.Errorf("the store in %s is not retired", c.String("data-dir"))
	}
	if !c.Bool("yes") && !confirm(c, fmt.Sprintf("the store was %s; make it usable again? [y/N] ", was)) {
		return fmt.Errorf("nothing changed: run again with --yes once no replica of the deployment runs")
	}
	if err := st.Unretire(); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "the store in %s is usable again (it was %s)\n", c.String("data-dir"), was)
	return nil
}

// storeMigrate copies every record in one transaction, then counts both
// stores: the copy is reported done only when the counts agree, and after
// the source is retired (durably: a committed write) so that no command
// opens it again beside the replicas. The token is not needed: records are
// copied as they are, sealed material and the ledger of owned objects
// included, and the deployment id comes along, so the token objects stay
// this deployment's.
func storeMigrate(c *cli.Context) (string, error) {
	to := c.String("to")
	if !postgres.IsURL(to) {
		return "", usagef("--to must be a postgres:// URL (or KEYPORT_STORE, or store in the config file)")
	}
	if storeURLPassword(to) && fromCommandLine(c, "to", "KEYPORT_STORE") {
		return "", passwordInFlag("to")
	}
	warnUnverifiedStore(to)
	src, err := bolt.Open(c.String("from"))
	if err != nil {
		return "", err
	}
	defer src.Close()
	if err := refuseRetired(c.Context, src); err != nil {
		return "", err
	}
	want, err := store.CountAll(c.Context, src)
	if err != nil {
		return "", fmt.Errorf("count the source: %w", err)
	}
	dst, err := postgres.Open(c.Context, to, true)
	if err != nil {
		return "", err
	}
	defer dst.Close()
	total := want.Keys + want.WrappingKeys + want.AccessKeys + want.Aliases + want.Users
	bar := newProgress(c.App.ErrWriter, total)
	if err := dst.LoadFrom(c.Context, src, bar.set); err != nil {
		bar.abandon()
		return "", fmt.Errorf("migrate: %w; the database is unchanged", err)
	}
	bar.finish()
	got, err := store.CountAll(c.Context, dst)
	if err != nil {
		return "", fmt.Errorf("count the copy: %w", err)
	}
	if got != want {
		return "", fmt.Errorf("migrate: the copy holds %+v, the source %+v", got, want)
	}
	dep, _ := dst.Meta(c.Context, store.MetaDeployment)
	mark := fmt.Sprintf("migrated to %s on %s", dst.Target(), time.Now().UTC().Format(time.RFC3339))
	if _, err := src.InitMeta(c.Context, store.MetaRetired, mark); err != nil {
		return "", fmt.Errorf("migrate: the copy in %s is complete, but the source could not be retired: %w; do not start the source again", dst.Target(), err)
	}
	fmt.Fprintf(c.App.Writer, "copied %d keys, %d wrapping keys, %d access keys, %d aliases, %d users of deployment %s to %s; counts verified; the source is retired\n",
		got.Keys, got.WrappingKeys, got.AccessKeys, got.Aliases, got.Users, dep, dst.Target())
	return dep, nil
}

// progress draws a bar on a terminal, at most ten times a second, and
// nothing elsewhere.
type progress struct {
	w     io.Writer
	total int
	tty   bool
	last  time.Time
	done  int
}

func newProgress(w io.Writer, total int) *progress {
	_, tty := terminal(w)
	return &progress{w: w, total: max(total, 1), tty: tty}
}

// terminal returns w as a file if it is a terminal.
func terminal(w io.Writer) (*os.File, bool) {
	f, ok := w.(*os.File)
	return f, ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) set(done int) {
	p.done = done
	if !p.tty || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	const width = 40
	filled := width * p.done / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d records", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.total)
}

func (p *progress) finish() {
	if p.tty {
		p.done = p.total
		p.draw()
		fmt.Fprintln(p.w)
	}
}

func (p *progress) abandon() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// errStoreDoesNotHold makes the exit status 1 after the report.
var errStoreDoesNotHold = errors.New("the store does not hold against its token")

func storeVerify(c *cli.Context) error {
	st, err := openAdminStack(c)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := st.svc.VerifyStore(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintln(c.App.Writer, string(out))
	} else {
		for _, p := range r.Problems {
			fmt.Fprintln(c.App.Writer, "PROBLEM", p)
		}
		if b := r.RestoredFrom; b != nil {
			fmt.Fprintf(c.App.Writer, "restored from backup %s taken %s: objects no record names may be keys made after it\n", b.ID, b.Taken.Format(time.RFC3339))
		}
		for _, o := range r.Unnamed {
			fmt.Fprintf(c.App.Writer, "unnamed %s %s %s (no record of this store names it; left alone)\n", o.ID, o.Class, o.Label)
		}
		fmt.Fprintf(c.App.Writer, "%d keys (%d older versions), %d access keys, %d wrapping keys, %d token objects checked; %d problems, %d objects no record names\n",
			r.Keys, r.Versions, r.AccessKeys, r.WrappingKeys, r.Objects, len(r.Problems), len(r.Unnamed))
	}
	if !r.OK() {
		return errStoreDoesNotHold
	}
	return nil
}
