package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"
)

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", EnvVars: []string{"KEYPORT_CONFIG"}, Usage: "YAML file with one key per flag of serve (listen, data-dir, store, module, …); flags and environment variables override it"}
}

// applyConfigFile reads --config and sets every flag the file names that
// neither the command line nor the environment set: flags override the
// environment, which overrides the file. An unknown key, a value of the
// wrong type or an empty document is an error naming the key and the file.
func applyConfigFile(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	values, err := readConfigFile(path, c.Command.Flags)
	if err != nil {
		return err
	}
	for _, kv := range values {
		if c.IsSet(kv.name) {
			continue
		}
		if err := c.Set(kv.name, kv.value); err != nil {
			return fmt.Errorf("config %s: key %q: %w", path, kv.name, err)
		}
	}
	return nil
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
