package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/server"
)

func accessKeyCommand() *cli.Command {
	// A fresh slice each time: appending to one shared slice would let the
	// subcommands overwrite each other's last flag.
	flags := func(more ...cli.Flag) []cli.Flag {
		return append(append(tokenFlags(), append(storeFlags(), auditFlag())...), more...)
	}
	idFlag := &cli.StringFlag{Name: "id", Usage: "the AccessKeyId"}
	return &cli.Command{
		Name:  "access-key",
		Usage: "manage API credentials (AccessKeyId/Secret; Tencent: SecretId/SecretKey), through the running server's admin socket or, with none running, the store itself",
		Subcommands: []*cli.Command{
			{
				Name:   "create",
				Usage:  "make a credential and print it; the secret is shown this once. With --user, the user's: it may do what the user's policies allow; without, the account root's: everything",
				Flags:  flags(&cli.BoolFlag{Name: "json"}, &cli.StringFlag{Name: "user", Usage: "the user the credential belongs to (keyport user create)"}),
				Action: accessKeyCreate,
			},
			{Name: "list", Usage: "list credentials (never secrets)", Flags: flags(&cli.BoolFlag{Name: "json"}), Action: accessKeyList},
			{Name: "disable", Usage: "refuse a credential's requests", Flags: flags(idFlag), Action: accessKeySet(true)},
			{Name: "enable", Usage: "accept a disabled credential again", Flags: flags(idFlag), Action: accessKeySet(false)},
			{Name: "delete", Usage: "delete a credential", Flags: flags(idFlag), Action: accessKeyDelete},
		},
	}
}

// admin is what the access-key and user commands need; *service.Service
// and the admin socket's client both provide it.
type admin interface {
	CreateAccessKey(ctx context.Context) (*service.NewAccessKey, error)
	ListAccessKeys(ctx context.Context) ([]service.AccessKey, error)
	SetAccessKeyDisabled(ctx context.Context, id string, disabled bool) error
	DeleteAccessKey(ctx context.Context, id string) error

	CreateUser(ctx context.Context, name string) error
	ListUsers(ctx context.Context) ([]service.User, error)
	DeleteUser(ctx context.Context, name string, force bool) error
	PutUserPolicy(ctx context.Context, user, name string, doc []byte) error
	UserPolicy(ctx context.Context, user, name string) (string, error)
	DeleteUserPolicy(ctx context.Context, user, name string) error
	CreateUserAccessKey(ctx context.Context, user string) (*service.NewAccessKey, error)
}

// openCredentials reaches the server running on the data directory through
// its admin socket or, with none running, opens token, store and service
// for this one command (no pool, no collector). A database store is
// worked on directly, replicas running or not: they see the change within
// their secret cache's TTL. auditLog is the log this command records its
// change in: none through the socket, where the server records it.
func openCredentials(c *cli.Context) (a admin, done func(), auditLog string, err error) {
	where, err := storeRefOf(c)
	if err != nil {
		return nil, nil, "", err
	}
	if !where.shared() {
		if client, err := server.DialAdmin(where.dir); err == nil {
			return client, func() {}, "", nil
		}
	}
	st, err := openAdminStack(c)
	if err != nil {
		return nil, nil, "", err
	}
	return st.svc, st.Close, c.String("audit-log"), nil
}

func accessKeyCreate(c *cli.Context) error {
	keys, done, auditLog, err := openCredentials(c)
	if err != nil {
		return err
	}
	defer done()
	var ak *service.NewAccessKey
	err = adminAction(c, auditLog, "AccessKeyCreate", func() (string, error) {
		if user := c.String("user"); user != "" {
			ak, err = keys.CreateUserAccessKey(c.Context, user)
		} else {
			ak, err = keys.CreateAccessKey(c.Context)
		}
		if err != nil {
			return "", err
		}
		return ak.AccessKeyID, nil
	})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c, map[string]string{"AccessKeyId": ak.AccessKeyID, "AccessKeySecret": ak.AccessKeySecret})
	}
	fmt.Fprintf(c.App.Writer, "AccessKeyId:     %s\nAccessKeySecret: %s\n(the secret is not shown again)\n", ak.AccessKeyID, ak.AccessKeySecret)
	return nil
}

func accessKeyList(c *cli.Context) error {
	a, done, _, err := openCredentials(c)
	if err != nil {
		return err
	}
	defer done()
	keys, err := a.ListAccessKeys(c.Context)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, k := range keys {
		state := "enabled"
		if k.Disabled {
			state = "disabled"
		}
		user := k.User
		if user == "" {
			user = "(root)"
		}
		rows = append(rows, []string{k.ID, user, k.Created.Format("2006-01-02T15:04:05Z"), state})
	}
	return output(c, keys, []string{"ACCESS KEY ID", "USER", "CREATED", "STATE"}, rows)
}

// onAccessKey is the action of commands that change one credential,
// recorded in the audit log as action.
func onAccessKey(action string, change func(c *cli.Context, keys admin, id string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		id := c.String("id")
		if id == "" {
			return usagef("give --id")
		}
		keys, done, auditLog, err := openCredentials(c)
		if err != nil {
			return err
		}
		defer done()
		return adminAction(c, auditLog, action, func() (string, error) { return id, change(c, keys, id) })
	}
}

func accessKeySet(disabled bool) cli.ActionFunc {
	action := "AccessKeyEnable"
	if disabled {
		action = "AccessKeyDisable"
	}
	return onAccessKey(action, func(c *cli.Context, keys admin, id string) error {
		return keys.SetAccessKeyDisabled(c.Context, id, disabled)
	})
}

var accessKeyDelete = onAccessKey("AccessKeyDelete", func(c *cli.Context, keys admin, id string) error {
	return keys.DeleteAccessKey(c.Context, id)
})
