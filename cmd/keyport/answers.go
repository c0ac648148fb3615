// What the admin commands ask and answer: a confirmation, and a result as
// a table or, with --json, as JSON. Shared by the hsm, store, accesskey and
// bench commands.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// confirm asks a yes/no question on a terminal; without one the answer is no.
func confirm(c *cli.Context, question string) bool {
	answer := ask(c, question)
	return strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")
}

// confirmTyped is confirm for what cannot be undone: only a typed "yes".
func confirmTyped(c *cli.Context, question string) bool {
	return strings.EqualFold(ask(c, question), "yes")
}

// ask asks on a terminal and returns the answer; without one, "".
func ask(c *cli.Context, question string) string {
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return ""
	}
	fmt.Fprint(c.App.ErrWriter, question)
	var answer string
	_, _ = fmt.Fscanln(os.Stdin, &answer)
	return answer
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
