// Package store is the contract of Keyport's metadata: the records (keys
// with their sealed material and fingerprints, aliases, wrapping keys pooled
// or issued, access keys, settings, the ledger of owned token objects), the
// views a backend implements, and the errors they return. It holds nothing
// that decrypts without the HSM, and imports no database: the embedded
// backend is store/bolt, the one replicas share store/postgres, and
// store/storetest exercises each view on both.
package store

import (
	"errors"
)

// ErrNotFound: no record with that id.
var ErrNotFound = errors.New("store: not found")

// ErrExists: a record with that id exists already.
var ErrExists = errors.New("store: exists")

// ErrPoolEmpty: no pooled wrapping key of that spec.
var ErrPoolEmpty = errors.New("store: wrapping key pool empty")

// ErrUnavailable: the store cannot be reached now (a database outage);
// the caller may retry.
var ErrUnavailable = errors.New("store unavailable")

// ErrNoStore: the directory holds no Keyport store, and the caller may not
// create one there.
var ErrNoStore = errors.New("no Keyport store")

// Names of the deployment's settings kept with Meta and InitMeta.
const (
	// MetaDeployment is the deployment id: random, set when the store is
	// created, and carried in the label of every token object this
	// deployment makes, so that no other deployment on the token touches them.
	MetaDeployment = "deployment_id"
	// MetaLegacyObjects is "true" in a store made before deployment ids:
	// its token objects carry the old labels and are adopted at start-up.
	MetaLegacyObjects = "legacy_objects"
	// MetaMasterSeal and MetaMasterMAC are the token ids of the master keys.
	MetaMasterSeal = "master_seal_key"
	MetaMasterMAC  = "master_mac_key"
	// MetaAuditMAC is the token id of the key that MACs the audit log's
	// checkpoints, made on first use.
	MetaAuditMAC = "audit_mac_key"
	// MetaRetired says where a store was migrated to, and when: a retired
	// store is refused by every command, so that it never serves (or
	// reconciles the token) beside the copy that replaced it.
	MetaRetired = "retired"
	// MetaRestoredFrom describes the backup a store was restored from
	// (service.Snapshot as JSON): which, when, what it held.
	MetaRestoredFrom = "restored_from"
)

// ErrRetired: the store was migrated elsewhere and retired.
var ErrRetired = errors.New("this Keyport store is retired")
