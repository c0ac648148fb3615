// Command keyport is the Keyport key management service and its admin CLI.
// This package only parses flags and wires packages together.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"
)

// version is set at build time (make build: -ldflags -X main.version=…).
var version = "dev"

// Exit statuses: 0 ok, 1 operational error, 2 usage error.
const (
	exitError = 1
	exitUsage = 2
)

// usageError marks a mistake in how keyport was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "keyport:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:         "keyport",
		Version:      version,
		Usage:        "a BYOK key management service speaking the Alibaba Cloud and Tencent Cloud KMS APIs, backed by a PKCS#11 HSM",
		Writer:       stdout,
		ErrWriter:    stderr,
		Flags:        []cli.Flag{logLevelFlag("info"), logFormatFlag("text")},
		Before:       setLogLevel,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} },
		Action:       unknownCommand,
		// Errors are printed once, by run, with the exit status it chooses.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			serveCommand(),
			checkConfigCommand(),
			hsmCommand(),
			accessKeyCommand(),
			userCommand(),
			benchCommand(),
			storeCommand(),
			importCommand(),
			auditCommand(),
		},
	}
	withConfig(app.Commands)
	markUsageErrors(app.Commands)
	return app
}

// markUsageErrors makes flag-parsing errors of every command usage errors
// (exit status 2); urfave/cli applies App.OnUsageError to the top level only.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err.Error()} }
		if c.Action == nil {
			c.Action = unknownCommand
		}
		markUsageErrors(c.Subcommands)
	}
}

// logLevelFlag is accepted before the command (default info) and by serve
// itself, which is where operators look for it (no default there, so that
// `keyport --log-level debug serve` keeps debug).
func logLevelFlag(value string) cli.Flag {
	return &cli.StringFlag{Name: "log-level", Value: value, EnvVars: []string{"KEYPORT_LOG_LEVEL"}, Usage: "debug, info, warn or error"}
}

func logFormatFlag(value string) cli.Flag {
	return &cli.StringFlag{Name: "log-format", Value: value, EnvVars: []string{"KEYPORT_LOG_FORMAT"}, Usage: "text or json (one object per line)"}
}

func parseLogLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return level, usagef("--log-level: %v", err)
	}
	return level, nil
}

// setLogLevel points slog at stderr at the level and in the format asked
// for, if the command's context names them.
func setLogLevel(c *cli.Context) error {
	if c.String("log-level") == "" && c.String("log-format") == "" {
		return nil
	}
	level := slog.LevelInfo
	if l := c.String("log-level"); l != "" {
		var err error
		if level, err = parseLogLevel(l); err != nil {
			return err
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "", "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(c.App.ErrWriter, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(c.App.ErrWriter, opts)))
	default:
		return usagef("--log-format %q: give text or json", c.String("log-format"))
	}
	return nil
}

// unknownCommand is the action of the app and of command groups: help when
// called bare, a usage error for a word that names no command.
func unknownCommand(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("unknown command %q; see --help", c.Args().First())
	}
	return cli.ShowSubcommandHelp(c)
}
