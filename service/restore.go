package service

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/keyport-kms/keyport/store"
)

// Snapshot describes a backup; `store backup` writes it as the backup
// file's stamp (package backupfile) and `store restore` into the restored
// store (store.MetaRestoredFrom).
type Snapshot struct {
	ID         string       `json:"id"`
	Deployment string       `json:"deployment"`
	Taken      time.Time    `json:"taken"`
	Source     string       `json:"source"` // the data directory it was taken from
	Bytes      int64        `json:"bytes"`
	Records    store.Counts `json:"records"`
}

// ParseSnapshot reads a Snapshot setting; ok is false when there is none.
func ParseSnapshot(setting string) (snap Snapshot, ok bool, err error) {
	if setting == "" {
		return snap, false, nil
	}
	if err := json.Unmarshal([]byte(setting), &snap); err != nil {
		return snap, false, fmt.Errorf("snapshot description: %w", err)
	}
	return snap, true, nil
}

// snapshotter is kept by the embedded store, whose file one read
// transaction copies whole; PostgreSQL is backed up with its own tools.
type snapshotter interface {
	Snapshot(ctx context.Context, w io.Writer) (int64, error)
}

// WriteSnapshot writes a consistent copy of the store to w while the
// service goes on serving.
func (s *Service) WriteSnapshot(ctx context.Context, w io.Writer) (int64, error) {
	snap, ok := s.st.(snapshotter)
	if !ok {
		return 0, errorf(KindInvalidParameter, "this store is backed up with its database's own tools (pg_dump, or point-in-time recovery): see the README's Backup and restore")
	}
	n, err := snap.Snapshot(ctx, w)
	if err != nil {
		return n, storeError("snapshot", err)
	}
	return n, nil
}

// RestoredStore is a store a backup was just copied into, which only
// `store restore` opens: its settings may be overwritten.
type RestoredStore interface {
	store.Store
	// PutMeta sets a setting, or removes it when value is "".
	PutMeta(ctx context.Context, name, value string) error
}

// Restored is what PrepareRestored changed.
type Restored struct {
	// PoolDropped are pooled wrapping keys forgotten: the store the snapshot
	// came from may have handed them out after it, and no public key is
	// handed out twice. Their objects, in this store's ledger and named by
	// no record, are destroyed at the next start-up.
	PoolDropped int `json:"pool_dropped"`
	// InFlight are ledger entries no record names: objects being made when
	// the snapshot was taken, which may since hold the material of a key
	// acknowledged after it. They leave the ledger, so that no start-up
	// destroys them; `store verify` lists them.
	InFlight int `json:"in_flight"`
}

// PrepareRestored makes a store just restored from a snapshot safe to start
// on the token the snapshot's store used: it records which snapshot it came
// from, drops the pooled wrapping keys and lets go of the objects being
// made at the snapshot. Objects made after the snapshot are in no ledger of
// this store, and start-up leaves them alone.
func PrepareRestored(ctx context.Context, st RestoredStore, snap Snapshot) (Restored, error) {
	var r Restored
	// Named before the pool is dropped: the pooled pairs' objects stay in
	// the ledger (start-up destroys them), only unnamed entries go.
	known, err := recordedObjects(ctx, st)
	if err != nil {
		return r, err
	}
	var pooled []string
	if err := st.EachWrapping(ctx, func(w *store.WrappingKey) bool {
		if w.KeyID == "" {
			pooled = append(pooled, w.ID)
		}
		return true
	}); err != nil {
		return r, err
	}
	for _, id := range pooled {
		if err := st.DeleteWrapping(ctx, id); err != nil {
			return r, fmt.Errorf("drop pooled wrapping key %s: %w", id, err)
		}
		r.PoolDropped++
	}
	var inFlight []string
	if err := st.EachOwned(ctx, func(id string, _ time.Time) bool {
		if !known[id] {
			inFlight = append(inFlight, id)
		}
		return true
	}); err != nil {
		return r, err
	}
	for _, id := range inFlight {
		if err := st.DisownObject(ctx, id); err != nil {
			return r, fmt.Errorf("release object %s: %w", id, err)
		}
		r.InFlight++
	}
	desc, _ := json.Marshal(snap)
	return r, st.PutMeta(ctx, store.MetaRestoredFrom, string(desc))
}
