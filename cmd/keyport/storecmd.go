package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/keyport-kms/keyport/audit"
	"github.com/keyport-kms/keyport/service/store"
)

func storeCommand() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "work on Keyport's store itself",
		Subcommands: []*cli.Command{{
			Name:  "migrate",
			Usage: "copy an embedded (bbolt) store into an empty PostgreSQL database, for replicas; the source is left as it was",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "from", Usage: "data directory of the embedded store (stop its server first)", Required: true},
				&cli.StringFlag{Name: "to", Usage: "postgres:// URL of an empty database", Required: true, EnvVars: []string{"KEYPORT_STORE"}},
				auditFlag(),
			},
			Action: func(c *cli.Context) error {
				return audit.Admin(c.Context, c.String("audit-log"), "StoreMigrate", func() (string, error) { return storeMigrate(c) })
			},
		}},
	}
}

// storeMigrate copies every record in one transaction, then counts both
// stores: the copy is reported done only when the counts agree. The token
// is not needed: records are copied as they are, sealed material included,
// and the deployment id comes along, so the token objects stay this
// deployment's.
func storeMigrate(c *cli.Context) (string, error) {
	to := c.String("to")
	if !store.IsPostgresURL(to) {
		return "", usagef("--to must be a postgres:// URL")
	}
	src, err := store.OpenBoltReadOnly(c.String("from"))
	if err != nil {
		return "", err
	}
	defer src.Close()
	want, err := store.CountAll(c.Context, src)
	if err != nil {
		return "", fmt.Errorf("count the source: %w", err)
	}
	dst, err := store.OpenPostgres(c.Context, to, true)
	if err != nil {
		return "", err
	}
	defer dst.Close()
	total := want.Keys + want.WrappingKeys + want.AccessKeys
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
	fmt.Fprintf(c.App.Writer, "copied %d keys, %d wrapping keys, %d access keys of deployment %s to %s; counts verified\n",
		got.Keys, got.WrappingKeys, got.AccessKeys, dep, dst.Target())
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
