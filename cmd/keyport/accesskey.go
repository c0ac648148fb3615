package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/service"
)

func accessKeyCommand() *cli.Command {
	// A fresh slice each time: appending to one shared slice would let the
	// subcommands overwrite each other's last flag.
	flags := func(more ...cli.Flag) []cli.Flag { return append(append(tokenFlags(), dataDirFlag()), more...) }
	idFlag := &cli.StringFlag{Name: "id", Usage: "the AccessKeyId"}
	return &cli.Command{
		Name:  "access-key",
		Usage: "manage API credentials (AccessKeyId/Secret; Tencent: SecretId/SecretKey); run with the server stopped",
		Subcommands: []*cli.Command{
			{
				Name:   "create",
				Usage:  "make a credential and print it; the secret is shown this once",
				Flags:  flags(&cli.BoolFlag{Name: "json"}),
				Action: accessKeyCreate,
			},
			{Name: "list", Usage: "list credentials (never secrets)", Flags: flags(&cli.BoolFlag{Name: "json"}), Action: accessKeyList},
			{Name: "disable", Usage: "refuse a credential's requests", Flags: flags(idFlag), Action: accessKeySet(true)},
			{Name: "enable", Usage: "accept a disabled credential again", Flags: flags(idFlag), Action: accessKeySet(false)},
			{Name: "delete", Usage: "delete a credential", Flags: flags(idFlag), Action: accessKeyDelete},
		},
	}
}

// openAdminStack opens token, store and service for a one-shot command: no
// pool, no collector.
func openAdminStack(c *cli.Context) (*stack, error) {
	cfg, err := hsmConfig(c)
	if err != nil {
		return nil, err
	}
	cfg.SkipProbe = true
	return openStack(c.Context, cfg, c.String("data-dir"), service.Options{PoolRSA: -1, PoolSM2: -1, CollectEvery: -1})
}

func accessKeyCreate(c *cli.Context) error {
	st, err := openAdminStack(c)
	if err != nil {
		return err
	}
	defer st.Close()
	ak, err := st.svc.CreateAccessKey(c.Context)
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
	st, err := openAdminStack(c)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.svc.ListAccessKeys(c.Context)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, k := range keys {
		state := "enabled"
		if k.Disabled {
			state = "disabled"
		}
		rows = append(rows, []string{k.ID, k.Created.Format("2006-01-02T15:04:05Z"), state})
	}
	return output(c, keys, []string{"ACCESS KEY ID", "CREATED", "STATE"}, rows)
}

// onAccessKey is the action of commands that change one credential.
func onAccessKey(change func(c *cli.Context, svc *service.Service, id string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		id := c.String("id")
		if id == "" {
			return usagef("give --id")
		}
		st, err := openAdminStack(c)
		if err != nil {
			return err
		}
		defer st.Close()
		return change(c, st.svc, id)
	}
}

func accessKeySet(disabled bool) cli.ActionFunc {
	return onAccessKey(func(c *cli.Context, svc *service.Service, id string) error {
		return svc.SetAccessKeyDisabled(c.Context, id, disabled)
	})
}

var accessKeyDelete = onAccessKey(func(c *cli.Context, svc *service.Service, id string) error {
	return svc.DeleteAccessKey(c.Context, id)
})
