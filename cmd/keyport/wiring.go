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

func dataDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "data-dir", EnvVars: []string{"KEYPORT_DATA_DIR"}, Usage: "directory of Keyport's store"}
}

// stack is an opened token, store and service, closed in reverse order.
type stack struct {
	hsm *hsm.HSM
	st  *store.Bolt
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
// for the admin commands: a directory without a store fails before the
// token is touched, and nothing on the token changes on opening.
func openStack(ctx context.Context, cfg hsm.Config, dataDir string, opt service.Options) (*stack, error) {
	if dataDir == "" {
		return nil, usagef("no data directory: give --data-dir or set KEYPORT_DATA_DIR")
	}
	s := &stack{}
	var err error
	if s.st, err = store.OpenBolt(dataDir); err != nil {
		return nil, err
	}
	if s.hsm, err = hsm.Open(ctx, cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s.start(ctx, opt)
}

// openServeStack is openStack for `serve`, the one command that creates a
// store (in a missing or empty directory): the token is opened first, so
// that a wrong PIN or module leaves no new store behind, and the service
// reconciles the token with the store before it takes requests.
func openServeStack(ctx context.Context, cfg hsm.Config, dataDir string, opt service.Options) (*stack, error) {
	s := &stack{}
	var err error
	if s.hsm, err = hsm.Open(ctx, cfg); err != nil {
		return nil, err
	}
	if s.st, err = store.CreateBolt(dataDir); err != nil {
		s.Close()
		return nil, err
	}
	opt.Reconcile = true
	return s.start(ctx, opt)
}

func (s *stack) start(ctx context.Context, opt service.Options) (*stack, error) {
	var err error
	opt.Token, opt.Store = s.hsm, s.st
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if s.svc, err = service.New(ctx, opt); err != nil {
		s.Close()
		return nil, fmt.Errorf("start service: %w", err)
	}
	return s, nil
}
