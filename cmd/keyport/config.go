package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/keyport-kms/keyport/hsm"
)

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", EnvVars: []string{"KEYPORT_CONFIG"}, Usage: "YAML file with one key per flag of serve (listen, data-dir, store, module, …); flags and environment variables override it"}
}

// withConfig lets every command that opens the token or the store read
// serve's config file too, so that an operator's admin commands find the
// same token, store and audit log as the server (and record their actions
// where it records requests).
func withConfig(cmds []*cli.Command) {
	for _, cmd := range cmds {
		withConfig(cmd.Subcommands)
		if cmd.Name == "serve" || cmd.Name == "check-config" || !hasFlag(cmd.Flags, "module", "data-dir", "store", "to") {
			continue
		}
		cmd.Flags = append(cmd.Flags, configFlag())
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := applyConfigFile(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	}
}

func hasFlag(flags []cli.Flag, names ...string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if slices.Contains(names, n) {
				return true
			}
		}
	}
	return false
}

// applyConfigFile reads --config and sets every flag the file names that
// neither the command line nor the environment set: flags override the
// environment, which overrides the file. The file is serve's: its keys are
// checked against serve's flags, and an admin command takes those it has.
// An unknown key, a value of the wrong type or an empty document is an
// error naming the key and the file; so is a file holding a database
// password that other users may read.
func applyConfigFile(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	values, err := readConfigFile(path, serveCommand().Flags)
	if err != nil {
		return err
	}
	set := configSet(c)
	for _, kv := range values {
		if kv.name == "store" && storeURLPassword(kv.value) {
			if err := hsm.PrivateFile(path, "config file (it holds a database password)"); err != nil {
				return err
			}
		}
		name := kv.name
		if name == "store" && !hasFlag(c.Command.Flags, "store") {
			name = "to" // store migrate's destination is the store serve will use
		}
		if !hasFlag(c.Command.Flags, name) || c.IsSet(name) {
			continue
		}
		if err := c.Set(name, kv.value); err != nil {
			return fmt.Errorf("config %s: key %q: %w", path, kv.name, err)
		}
		set[name] = true
	}
	return nil
}

// configSet is the set of flags the config file set, kept with the app.
func configSet(c *cli.Context) map[string]bool {
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	set, ok := c.App.Metadata["config-set"].(map[string]bool)
	if !ok {
		set = map[string]bool{}
		c.App.Metadata["config-set"] = set
	}
	return set
}

// fromCommandLine reports whether a flag's value came from the command
// line (where ps and shell history show it) rather than from the
// environment or the config file.
func fromCommandLine(c *cli.Context, name string, env string) bool {
	v := c.String(name)
	return v != "" && !configSet(c)[name] && (env == "" || os.Getenv(env) != v)
}

type configValue struct{ name, value string }

// readConfigFile checks the file against the command's flags and returns
// each key's value as the flag would take it on the command line.
func readConfigFile(path string, flags []cli.Flag) ([]configValue, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: the file is empty", path)
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config %s: want a mapping of flag names to values", path)
	}
	byName := map[string]cli.Flag{}
	for _, f := range flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
	}
	m := doc.Content[0]
	if len(m.Content) == 0 {
		return nil, fmt.Errorf("config %s: the document is empty", path)
	}
	seen := map[string]bool{}
	var out []configValue
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		name := k.Value
		f, ok := byName[name]
		if !ok || name == "config" {
			return nil, fmt.Errorf("config %s: line %d: unknown key %q (the keys are serve's flag names)", path, k.Line, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("config %s: line %d: key %q given twice", path, k.Line, name)
		}
		seen[name] = true
		value, err := configScalar(f, v)
		if err != nil {
			return nil, fmt.Errorf("config %s: line %d: key %q: %v", path, v.Line, name, err)
		}
		out = append(out, configValue{name, value})
	}
	return out, nil
}

// configScalar checks a value's YAML type against its flag's.
func configScalar(f cli.Flag, v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", errors.New("want a single value")
	}
	tag := v.ShortTag()
	switch f.(type) {
	case *cli.BoolFlag:
		if tag != "!!bool" {
			return "", fmt.Errorf("want true or false, not %q", v.Value)
		}
	case *cli.IntFlag:
		if tag != "!!int" {
			return "", fmt.Errorf("want a whole number, not %q", v.Value)
		}
	case *cli.Float64Flag:
		if tag != "!!int" && tag != "!!float" {
			return "", fmt.Errorf("want a number, not %q", v.Value)
		}
		if _, err := strconv.ParseFloat(v.Value, 64); err != nil {
			return "", fmt.Errorf("want a number, not %q", v.Value)
		}
	case *cli.DurationFlag:
		if _, err := time.ParseDuration(v.Value); err != nil {
			return "", fmt.Errorf("want a duration such as 30s or 24h, not %q", v.Value)
		}
	case *cli.StringFlag:
		if tag == "!!null" {
			return "", errors.New("want a value")
		}
	default:
		return "", errors.New("cannot be set from a file")
	}
	return v.Value, nil
}
