package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/audit"
	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/bolt"
	"github.com/keyport-kms/keyport/store/postgres"
)

// storeFlags say where the store is: a PostgreSQL database that replicas
// share, or the embedded bbolt store in a data directory.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", EnvVars: []string{"KEYPORT_DATA_DIR"}, Usage: "directory of Keyport's embedded store (without --store)"},
		&cli.StringFlag{Name: "store", EnvVars: []string{"KEYPORT_STORE"}, Usage: "postgres://user:password@host:port/database of the store replicas share (unset: the embedded store in --data-dir)"},
	}
}

// auditFlag names the audit log: the server records every API request in
// it, and the admin commands their actions.
func auditFlag() cli.Flag {
	return &cli.StringFlag{Name: "audit-log", EnvVars: []string{"KEYPORT_AUDIT_LOG"}, Usage: "append one JSON line per request or admin action to this file; when it cannot be written, requests are refused (SIGHUP reopens it)"}
}

// storeRef is where a command's store is.
type storeRef struct{ url, dir string }

func storeRefOf(c *cli.Context) (storeRef, error) {
	r := storeRef{url: c.String("store"), dir: c.String("data-dir")}
	switch {
	case r.url != "" && !postgres.IsURL(r.url):
		return r, usagef("--store must be a postgres:// URL (leave it unset for the embedded store in --data-dir)")
	case storeURLPassword(r.url) && fromCommandLine(c, "store", "KEYPORT_STORE"):
		return r, passwordInFlag("store")
	case r.url == "" && r.dir == "":
		return r, usagef("no data directory: give --data-dir (or KEYPORT_DATA_DIR), or for a store replicas share --store postgres://… (or KEYPORT_STORE)")
	}
	return r, nil
}

// passwordInFlag refuses a database password on the command line, as a PIN
// is refused there: ps and shell history would show it.
func passwordInFlag(flag string) error {
	return usagef("--%s holds a database password, which ps and shell history show: give the URL in KEYPORT_STORE or the config file (mode 600), "+
		"or leave the password out and keep it in a PGPASSFILE (or passfile=… in the URL)", flag)
}

// storeURLPassword reports whether a postgres:// URL carries a password,
// in its user part or as a password parameter.
func storeURLPassword(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !postgres.IsURL(raw) {
		return false
	}
	_, inUser := u.User.Password()
	return inUser || u.Query().Get("password") != ""
}

// warnUnverifiedStore warns when the store's database is reached over the
// network without verifying the server: anyone on the path could then read
// the store (sealed, but with every record's metadata) and answer in the
// database's place. Loopback hosts and Unix sockets are not warned about.
func warnUnverifiedStore(raw string) {
	u, err := url.Parse(raw)
	if err != nil || !postgres.IsURL(raw) {
		return
	}
	mode := cmp.Or(u.Query().Get("sslmode"), os.Getenv("PGSSLMODE"), "prefer")
	if mode == "verify-full" || mode == "verify-ca" {
		return
	}
	var remote []string
	hosts := strings.Split(u.Host, ",")
	if h := u.Query().Get("host"); h != "" {
		hosts = strings.Split(h, ",")
	}
	for _, h := range hosts {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		if h != "" && !strings.HasPrefix(h, "/") && !isLoopback(h) {
			remote = append(remote, h)
		}
	}
	if len(remote) > 0 {
		slog.Warn("store: the database connection does not verify the server; use sslmode=verify-full (with sslrootcert) so that no one on the path can read or answer for the store",
			"hosts", strings.Join(remote, ","), "sslmode", mode)
	}
}

// given reports whether the command was told of a store at all.
func storeGiven(c *cli.Context) bool { return c.String("store") != "" || c.String("data-dir") != "" }

func (r storeRef) shared() bool { return r.url != "" }

// open opens the store; with create (serve only) a missing one is made.
func (r storeRef) open(ctx context.Context, create bool) (store.Store, error) {
	var st store.Store
	var err error
	switch {
	case r.shared():
		st, err = postgres.Open(ctx, r.url, create)
	case create:
		st, err = bolt.Create(r.dir)
	default:
		st, err = bolt.Open(r.dir)
	}
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	if err := refuseRetired(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// refuseRetired refuses a store that `store migrate` retired: started, it
// would reconcile the token beside the copy that replaced it.
func refuseRetired(ctx context.Context, st store.Store) error {
	mark, err := st.Meta(ctx, store.MetaRetired)
	if err != nil {
		return err
	}
	if mark != "" {
		return fmt.Errorf("%w: it was %s; use that store (or, to roll back on purpose, keyport store unretire)", store.ErrRetired, mark)
	}
	return nil
}

// stack is an opened token, store and service, closed in reverse order.
type stack struct {
	hsm *hsm.HSM
	st  store.Store
	svc *service.Service
}

func (s *stack) Close() {
	if s.svc != nil {
		s.svc.Close()
	}
	if s.st != nil {
		s.st.Close()
	}
	if s.hsm != nil {
		s.hsm.Close()
	}
}

// openStack opens an existing store, then the token, then the service,
// for the admin commands: a directory or database without a store fails
// before the token is touched, and nothing on the token changes on opening.
func openStack(ctx context.Context, cfg hsm.Config, where storeRef, opt service.Options) (*stack, error) {
	s := &stack{}
	var err error
	if s.st, err = where.open(ctx, false); err != nil {
		return nil, err
	}
	if s.hsm, err = hsm.Open(ctx, cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s.start(ctx, opt)
}

// openServeStack is openStack for `serve`, the one command that creates a
// store (in a missing or empty directory, or an empty database): the token
// is opened first, so that a wrong PIN or module leaves no new store behind,
// and the service reconciles the token with the store.
//
// wrap, if set, wraps the token the service uses (metrics time it).
func openServeStack(ctx context.Context, cfg hsm.Config, where storeRef, opt service.Options, wrap func(*hsm.HSM) hsm.Token) (*stack, error) {
	s := &stack{}
	var err error
	if s.hsm, err = hsm.Open(ctx, cfg); err != nil {
		return nil, err
	}
	if wrap != nil {
		opt.Token = wrap(s.hsm)
	}
	if s.st, err = where.open(ctx, true); err != nil {
		s.Close()
		return nil, err
	}
	opt.Reconcile = true
	return s.start(ctx, opt)
}

func (s *stack) start(ctx context.Context, opt service.Options) (*stack, error) {
	var err error
	if opt.Token == nil {
		opt.Token = s.hsm
	}
	opt.Store = s.st
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if s.svc, err = service.New(ctx, opt); err != nil {
		s.Close()
		return nil, fmt.Errorf("start service: %w", err)
	}
	return s, nil
}

// adminAction runs an admin action and records it: in the audit log file,
// if one is set, and, with a PostgreSQL store (--store, or store migrate's
// --to), in the database's admin log too.
func adminAction(c *cli.Context, auditLog, action string, run func() (string, error)) error {
	url := c.String("store")
	if hasFlag(c.Command.Flags, "to") {
		url = c.String("to")
	}
	var keep audit.Keep
	if postgres.IsURL(url) {
		keep = func(ctx context.Context, r audit.Record) error {
			db, err := postgres.Open(ctx, url, false)
			if err != nil {
				return err
			}
			defer db.Close()
			line, err := json.Marshal(r)
			if err != nil {
				return err
			}
			return db.AppendAdminLog(ctx, line)
		}
	}
	return audit.Admin(c.Context, auditLog, action, run, keep)
}

// openAdminStack opens the store in --data-dir and the token, with no pool,
// no collector and no reconcile: admin commands change only what they say.
func openAdminStack(c *cli.Context) (*stack, error) {
	cfg, err := hsmConfig(c)
	if err != nil {
		return nil, err
	}
	cfg.SkipProbe = true
	where, err := storeRefOf(c)
	if err != nil {
		return nil, err
	}
	return openStack(c.Context, cfg, where, service.Options{PoolRSA: -1, PoolSM2: -1, PoolRSALarge: -1, CollectEvery: -1})
}
