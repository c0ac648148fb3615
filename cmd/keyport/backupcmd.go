package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/server"
	"github.com/keyport-kms/keyport/store"
	"github.com/keyport-kms/keyport/store/backupfile"
	"github.com/keyport-kms/keyport/store/bolt"
	"github.com/keyport-kms/keyport/store/postgres"
)

func storeBackupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "copy the embedded store to a new file, consistently, while serve runs (one read transaction through the admin socket; no pause of the server) or while it is stopped; a PostgreSQL store is backed up with pg_dump or PITR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data-dir", EnvVars: []string{"KEYPORT_DATA_DIR"}, Usage: "data directory of the embedded store", Required: true},
			&cli.StringFlag{Name: "store", EnvVars: []string{"KEYPORT_STORE"}, Hidden: true},
			&cli.StringFlag{Name: "to", Usage: "the backup file to make (never overwritten)", Required: true},
			&cli.BoolFlag{Name: "json", Usage: "print what the backup holds as JSON"},
			auditFlag(),
		},
		Action: storeBackup,
	}
}

func storeRestoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "restore",
		Usage: "make a store in an empty data directory from a backup, or (--store, no --from) ready a database restored with pg_restore or PITR to start; the store the backup came from must be stopped for good (confirm with --yes, or type yes)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "backup file made by keyport store backup"},
			&cli.StringFlag{Name: "data-dir", EnvVars: []string{"KEYPORT_DATA_DIR"}, Usage: "the data directory to restore into: missing or empty"},
			&cli.StringFlag{Name: "store", EnvVars: []string{"KEYPORT_STORE"}, Usage: "postgres:// URL of a database just restored with PostgreSQL's tools, before any replica starts on it"},
			&cli.TimestampFlag{Name: "taken", Layout: time.RFC3339, Usage: "with --store: when the dump was taken, or the recovery target time (RFC 3339), recorded with the restore"},
			&cli.BoolFlag{Name: "yes", Usage: "confirm that the store the backup came from is stopped for good"},
			&cli.BoolFlag{Name: "json", Usage: "print what was restored as JSON"},
			auditFlag(),
		},
		Action: func(c *cli.Context) error {
			return adminAction(c, c.String("audit-log"), "StoreRestore", func() (string, error) { return storeRestore(c) })
		},
	}
}

// storeBackup copies the store into a scratch file, checks that copy page
// by page and counts it, then writes the backup (the stamp, the copy, a
// digest) durably: a file by that name is a whole, checked backup.
func storeBackup(c *cli.Context) error {
	if c.String("store") != "" {
		return usagef("a PostgreSQL store is backed up with pg_dump or point-in-time recovery (see the README's Backup and restore); store backup copies the embedded store in --data-dir")
	}
	dir, to := c.String("data-dir"), c.String("to")
	if _, err := os.Lstat(to); err == nil {
		return fmt.Errorf("%s exists: give a new file (a backup is never overwritten)", to)
	}
	scratch := to + ".copy"
	f, err := os.OpenFile(scratch, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(scratch)
	defer f.Close()
	taken := time.Now().UTC()
	var n int64
	if live, err := server.DialAdmin(dir); err == nil {
		// The server records the backup in its own audit log.
		if n, err = live.Snapshot(c.Context, f); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	} else if err := adminAction(c, c.String("audit-log"), "StoreBackup", func() (string, error) {
		n, err = snapshotStopped(c.Context, dir, f)
		return "", err
	}); err != nil {
		return err
	}
	snap, err := stampOf(c.Context, scratch, dir, taken, n)
	if err != nil {
		return err
	}
	stamp, _ := json.Marshal(snap)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := bolt.WriteDurably(to, func(w io.Writer) error { return backupfile.Write(w, stamp, f, n) }); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if c.Bool("json") {
		return writeJSON(c, snap)
	}
	fmt.Fprintf(c.App.Writer, "backup %s of deployment %s taken %s: %s, %d bytes of store, checked; in %s\n",
		snap.ID, snap.Deployment, snap.Taken.Format(time.RFC3339), describeRecords(snap.Records), snap.Bytes, to)
	return nil
}

// snapshotStopped copies the store of a stopped server, opened read-only.
func snapshotStopped(ctx context.Context, dir string, f *os.File) (int64, error) {
	st, err := bolt.OpenReadOnly(dir)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if err := refuseRetired(ctx, st); err != nil {
		return 0, err
	}
	return st.Snapshot(ctx, f)
}

// stampOf checks every page of the copy just made and says what it is.
func stampOf(ctx context.Context, path, source string, taken time.Time, n int64) (service.Snapshot, error) {
	snap := service.Snapshot{Taken: taken, Bytes: n}
	snap.Source, _ = filepath.Abs(source)
	st, err := bolt.OpenFileReadOnly(path)
	if err != nil {
		return snap, fmt.Errorf("backup: the copy does not open: %w", err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		return snap, fmt.Errorf("backup: the copy is damaged: %w", err)
	}
	if snap.Records, err = store.CountAll(ctx, st); err != nil {
		return snap, fmt.Errorf("backup: count the copy: %w", err)
	}
	if snap.Deployment, err = st.Meta(ctx, store.MetaDeployment); err != nil || snap.Deployment == "" {
		return snap, fmt.Errorf("backup: the copy names no deployment (%v)", err)
	}
	snap.ID, err = store.NewDeploymentID()
	return snap, err
}

func describeRecords(r store.Counts) string {
	return fmt.Sprintf("%d keys, %d wrapping keys, %d access keys, %d aliases, %d users", r.Keys, r.WrappingKeys, r.AccessKeys, r.Aliases, r.Users)
}

// restoreReport is what store restore prints with --json.
type restoreReport struct {
	Snapshot service.Snapshot `json:"snapshot"`
	DataDir  string           `json:"data_dir,omitempty"`
	Store    string           `json:"store,omitempty"` // a database, without its password
	service.Restored
}

// storeRestore checks the backup, the directory and the operator's word, in
// that order, before it writes anything.
func storeRestore(c *cli.Context) (string, error) {
	from, dir := c.String("from"), c.String("data-dir")
	switch {
	case c.String("store") != "" && from == "":
		return readyRestoredDatabase(c)
	case from == "" || dir == "":
		return "", usagef("give --from BACKUP and --data-dir DIR (or, for a database restored with pg_restore or PITR, --store postgres://… alone)")
	}
	snap, err := readBackup(from, io.Discard)
	if err != nil {
		return "", err
	}
	if err := bolt.RestorableDir(dir); err != nil {
		return "", fmt.Errorf("%w (nothing changed)", err)
	}
	question := fmt.Sprintf("backup %s of deployment %s, taken %s from %s: %s.\n"+
		"The store it came from must be stopped for good: it and the restored one would both make and destroy token objects of one deployment.\n"+
		"Type yes to restore: ", snap.ID, snap.Deployment, snap.Taken.Format(time.RFC3339), snap.Source, describeRecords(snap.Records))
	if !c.Bool("yes") && !confirmTyped(c, question) {
		return "", errors.New("nothing restored: run again with --yes (or type yes on a terminal) once the store the backup came from is stopped for good")
	}
	// Read again as it is copied: the file the operator confirmed is the
	// file restored, digest and all.
	st, err := bolt.Restore(dir, func(w io.Writer) error {
		again, err := readBackup(from, w)
		if err == nil && again.ID != snap.ID {
			err = fmt.Errorf("%s changed while it was restored", from)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	defer st.Close()
	r, err := service.PrepareRestored(c.Context, st, snap)
	if err != nil {
		return "", fmt.Errorf("restore: %w; remove %s before trying again", err, dir)
	}
	return snap.ID, reportRestore(c, restoreReport{Snapshot: snap, DataDir: dir, Restored: r})
}

func reportRestore(c *cli.Context, r restoreReport) error {
	if c.Bool("json") {
		return writeJSON(c, r)
	}
	snap, into := r.Snapshot, r.DataDir
	if into == "" {
		into = r.Store
	}
	fmt.Fprintf(c.App.Writer, "restored backup %s of deployment %s (taken %s) into %s: %s; %d pooled wrapping keys dropped (the old store may have handed them out), %d objects being made at the backup released (never destroyed); next: keyport store verify, then serve\n",
		snap.ID, snap.Deployment, snap.Taken.Format(time.RFC3339), into, describeRecords(snap.Records), r.PoolDropped, r.InFlight)
	return nil
}

// readyRestoredDatabase does for a database PostgreSQL's tools restored
// what restore does for a backup file once copied: the pool is dropped, the
// objects being made at the dump are let go, and the database records that
// it was restored.
func readyRestoredDatabase(c *cli.Context) (string, error) {
	where, err := storeRefOf(c)
	if err != nil {
		return "", err
	}
	st, err := postgres.Open(c.Context, where.url, false)
	if err != nil {
		return "", err
	}
	defer st.Close()
	snap := service.Snapshot{Source: st.Target(), Taken: time.Now().UTC()}
	if t := c.Timestamp("taken"); t != nil {
		snap.Taken = t.UTC()
	}
	if snap.Deployment, err = st.Meta(c.Context, store.MetaDeployment); err != nil || snap.Deployment == "" {
		return "", fmt.Errorf("%s holds no Keyport store (%v)", st.Target(), err)
	}
	if snap.Records, err = store.CountAll(c.Context, st); err != nil {
		return "", err
	}
	if snap.ID, err = store.NewDeploymentID(); err != nil {
		return "", err
	}
	question := fmt.Sprintf("database %s of deployment %s: %s.\n"+
		"No replica may run on it yet, and the store it was dumped from must be stopped for good.\nType yes to ready it: ", st.Target(), snap.Deployment, describeRecords(snap.Records))
	if !c.Bool("yes") && !confirmTyped(c, question) {
		return "", errors.New("nothing changed: run again with --yes (or type yes on a terminal) before any replica starts on the database")
	}
	r, err := service.PrepareRestored(c.Context, st, snap)
	if err != nil {
		return "", fmt.Errorf("ready the restored database: %w", err)
	}
	return snap.ID, reportRestore(c, restoreReport{Snapshot: snap, Store: st.Target(), Restored: r})
}

// readBackup reads a backup whole, copying its store to w, and returns its
// stamp once the digest holds.
func readBackup(path string, w io.Writer) (service.Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return service.Snapshot{}, fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	r, err := backupfile.Open(f)
	if err != nil {
		return service.Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := r.Store(w); err != nil {
		return service.Snapshot{}, fmt.Errorf("%s: %w", path, err)
	}
	snap, ok, err := service.ParseSnapshot(string(r.Stamp()))
	if err != nil || !ok {
		return snap, fmt.Errorf("%s: %w: its stamp does not read (%v)", path, backupfile.ErrDamaged, err)
	}
	return snap, nil
}
