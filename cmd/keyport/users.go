package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/service"
)

func userCommand() *cli.Command {
	flags := func(more ...cli.Flag) []cli.Flag {
		return append(append(tokenFlags(), append(storeFlags(), auditFlag())...), more...)
	}
	jsonFlag := func() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON"} }
	return &cli.Command{
		Name: "user",
		Usage: "manage the account's users and their policies (RAM or CAM documents), through the running server's admin socket or, " +
			"with none running, the store itself; a user starts with no rights",
		Subcommands: []*cli.Command{
			{Name: "create", Usage: "make a user with no rights", ArgsUsage: "NAME", Flags: flags(jsonFlag()), Action: withArgs("user create NAME", userCreate)},
			{Name: "list", Usage: "list users, their policies and access keys", Flags: flags(jsonFlag()), Action: withArgs("user list", userList)},
			{
				Name: "delete", Usage: "delete a user; refused while it has access keys, unless --force, which deletes them too", ArgsUsage: "NAME",
				Flags:  flags(&cli.BoolFlag{Name: "force", Usage: "delete the user's access keys as well"}),
				Action: withArgs("user delete NAME [--force]", userDelete),
			},
			{
				Name:  "policy",
				Usage: "a user's named policies",
				Subcommands: []*cli.Command{
					{
						Name: "put", Usage: "give a user a policy, or replace the one of that name; a document that does not parse is refused with its line and field",
						ArgsUsage: "NAME POLICY", Flags: flags(&cli.StringFlag{Name: "file", Usage: "the policy document (- for standard input)"}),
						Action: withArgs("user policy put NAME POLICY --file F", userPolicyPut),
					},
					{Name: "list", Usage: "list a user's policies", ArgsUsage: "NAME", Flags: flags(jsonFlag()), Action: withArgs("user policy list NAME", userPolicyList)},
					{Name: "show", Usage: "print one of a user's policies as written", ArgsUsage: "NAME POLICY", Flags: flags(), Action: withArgs("user policy show NAME POLICY", userPolicyShow)},
					{Name: "delete", Usage: "take a policy from a user", ArgsUsage: "NAME POLICY", Flags: flags(), Action: withArgs("user policy delete NAME POLICY", userPolicyDelete)},
				},
			},
		},
	}
}

// withArgs runs action with the command's arguments, as many as usage
// names in capitals before its flags, taking flags that come after them too ("user create
// alice --json"), as people type them: urfave/cli stops reading flags at
// the first argument.
func withArgs(usage string, action func(c *cli.Context, args []string) error) cli.ActionFunc {
	want := 0
	for _, w := range strings.Fields(usage) {
		if strings.HasPrefix(w, "-") || strings.HasPrefix(w, "[") {
			break // the flags' part
		}
		if w == strings.ToUpper(w) {
			want++
		}
	}
	return func(c *cli.Context) error {
		rest := c.Args().Slice()
		var args []string
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			if a == "--" {
				args = append(args, rest[i+1:]...)
				break
			}
			if !strings.HasPrefix(a, "-") || a == "-" {
				args = append(args, a)
				continue
			}
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			f := flagNamed(c.Command.Flags, name)
			if f == nil {
				return usagef("flag provided but not defined: %s", a)
			}
			if _, isBool := f.(*cli.BoolFlag); isBool && !hasValue {
				value = "true"
			} else if !hasValue {
				if i+1 == len(rest) {
					return usagef("flag needs an argument: %s", a)
				}
				i++
				value = rest[i]
			}
			if err := c.Set(name, value); err != nil {
				return usagef("%s: %v", a, err)
			}
		}
		if len(args) != want {
			return usagef("usage: keyport %s", usage)
		}
		return action(c, args)
	}
}

func flagNamed(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if hasFlag([]cli.Flag{f}, name) {
			return f
		}
	}
	return nil
}

// onAdmin opens the admin stack for one command and records its change in
// the audit log as action on target.
func onAdmin(c *cli.Context, action string, run func(a admin) (target string, err error)) error {
	a, done, auditLog, err := openCredentials(c)
	if err != nil {
		return err
	}
	defer done()
	return adminAction(c, auditLog, action, func() (string, error) { return run(a) })
}

func userCreate(c *cli.Context, args []string) error {
	err := onAdmin(c, "UserCreate", func(a admin) (string, error) { return args[0], a.CreateUser(c.Context, args[0]) })
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c, map[string]string{"UserName": args[0]})
	}
	fmt.Fprintf(c.App.Writer, "user %s created, with no rights: give it policies (keyport user policy put) and an access key (keyport access-key create --user %s)\n", args[0], args[0])
	return nil
}

// listUsers reads the users, for the commands that only read.
func listUsers(c *cli.Context) ([]service.User, error) {
	a, done, _, err := openCredentials(c)
	if err != nil {
		return nil, err
	}
	defer done()
	return a.ListUsers(c.Context)
}

func userList(c *cli.Context, _ []string) error {
	users, err := listUsers(c)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, u := range users {
		rows = append(rows, []string{u.Name, u.Created, strings.Join(u.Policies, ","), strings.Join(u.AccessKeys, ",")})
	}
	return output(c, users, []string{"USER", "CREATED", "POLICIES", "ACCESS KEYS"}, rows)
}

func userDelete(c *cli.Context, args []string) error {
	return onAdmin(c, "UserDelete", func(a admin) (string, error) {
		return args[0], a.DeleteUser(c.Context, args[0], c.Bool("force"))
	})
}

func userPolicyPut(c *cli.Context, args []string) error {
	file := c.String("file")
	if file == "" {
		return usagef("give the policy document with --file F (- for standard input)")
	}
	var in io.Reader = c.App.Reader
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	doc, err := io.ReadAll(io.LimitReader(in, policy.MaxSize+1))
	if err != nil {
		return err
	}
	return onAdmin(c, "UserPolicyPut", func(a admin) (string, error) {
		return args[0] + "/" + args[1], a.PutUserPolicy(c.Context, args[0], args[1], doc)
	})
}

func userPolicyList(c *cli.Context, args []string) error {
	users, err := listUsers(c)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name != args[0] {
			continue
		}
		var rows [][]string
		for _, p := range u.Policies {
			rows = append(rows, []string{p})
		}
		return output(c, u.Policies, []string{"POLICY"}, rows)
	}
	return fmt.Errorf("user %s not found", args[0])
}

func userPolicyShow(c *cli.Context, args []string) error {
	a, done, _, err := openCredentials(c)
	if err != nil {
		return err
	}
	defer done()
	doc, err := a.UserPolicy(c.Context, args[0], args[1])
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, doc)
	return nil
}

func userPolicyDelete(c *cli.Context, args []string) error {
	return onAdmin(c, "UserPolicyDelete", func(a admin) (string, error) {
		return args[0] + "/" + args[1], a.DeleteUserPolicy(c.Context, args[0], args[1])
	})
}
