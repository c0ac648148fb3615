package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/store"
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
	case r.url != "" && !store.IsPostgresURL(r.url):
		return r, usagef("--store must be a postgres:// URL (leave it unset for the embedded store in --data-dir)")
	case r.url == "" && r.dir == "":
		return r, usagef("no data directory: give --data-dir (or KEYPORT_DATA_DIR), or for a store replicas share --store postgres://… (or KEYPORT_STORE)")
	}
	return r, nil
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
		st, err = store.OpenPostgres(ctx, r.url, create)
	case create:
		st, err = store.CreateBolt(r.dir)
	default:
		st, err = store.OpenBolt(r.dir)
	}
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return st, nil
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
