package store

import (
	"context"
	"time"
)

// Store is everything a deployment keeps, as small views: each caller takes
// the one it uses (the wrapping-key pool Wrapping and Leases, the access-key
// commands AccessKeys), and each view has its exercise in storetest. Every
// method is atomic; an UpdateX runs fn inside one write transaction, so fn
// must be quick and touch no HSM.
type Store interface {
	Keys
	Aliases
	Wrapping
	AccessKeys
	Users
	Settings
	Ledger
	Leases
	Close() error
}

// Keys are the KMS keys, their versions and the token objects they refer to.
type Keys interface {
	CreateKey(ctx context.Context, k *Key) error
	// CreateKeys creates several keys in one transaction (bulk loads).
	CreateKeys(ctx context.Context, keys []*Key) error
	GetKey(ctx context.Context, id string) (*Key, error)
	// GetPrimary is GetKey without the retired versions (Versions nil,
	// Retired their number): the hot path's read, whose cost does not grow
	// with a key's versions. Never write back a key read this way.
	GetPrimary(ctx context.Context, id string) (*Key, error)
	UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error)
	// DeleteKey deletes a key and its aliases.
	DeleteKey(ctx context.Context, id string) error
	// ListKeys returns keys in creation order, and how many there are, in
	// time that does not grow with the number of keys.
	ListKeys(ctx context.Context, offset, limit int) ([]*Key, int, error)
	// EachKey calls fn for every key until it returns false, holding only a
	// batch of keys in memory; fn may write.
	EachKey(ctx context.Context, fn func(*Key) bool) error
	// DueKeys calls fn for every key whose Deadline is set and not after
	// until, earliest first, until it returns false; fn may write.
	DueKeys(ctx context.Context, until time.Time, fn func(*Key) bool) error
	// KeyObjects calls fn with every token object id a key refers to.
	KeyObjects(ctx context.Context, fn func(object, keyID string) bool) error
}

// Aliases are the deployment's unique names for keys.
type Aliases interface {
	// PutAlias creates an alias; ErrExists if the name is taken.
	PutAlias(ctx context.Context, a *Alias) error
	// SetAlias points an existing alias at keyID; ErrNotFound if absent.
	SetAlias(ctx context.Context, name, keyID string, now time.Time) error
	GetAlias(ctx context.Context, name string) (*Alias, error)
	// DeleteAlias removes an alias; ErrNotFound if absent.
	DeleteAlias(ctx context.Context, name string) error
	// ListAliases returns the aliases whose names start with prefix and,
	// if keyID is set, that point at it, in name order.
	ListAliases(ctx context.Context, prefix, keyID string) ([]*Alias, error)
}

// Wrapping are the wrapping key pairs: pooled ahead of demand, or issued to
// one import.
type Wrapping interface {
	// AddPooled stores a fresh wrapping key in the pool of its spec.
	AddPooled(ctx context.Context, w *WrappingKey) error
	// ClaimPooled moves one pooled key of spec out of the pool, lets bind
	// fill in the issue fields, and stores it as issued.
	ClaimPooled(ctx context.Context, spec string, bind func(*WrappingKey)) (*WrappingKey, error)
	CountPooled(ctx context.Context, spec string) (int, error)
	// PutIssued stores a wrapping key issued without the pool.
	PutIssued(ctx context.Context, w *WrappingKey) error
	GetIssued(ctx context.Context, id string) (*WrappingKey, error)
	UpdateIssued(ctx context.Context, id string, fn func(*WrappingKey) error) (*WrappingKey, error)
	// DeleteWrapping removes a wrapping key, pooled or issued.
	DeleteWrapping(ctx context.Context, id string) error
	// EachWrapping calls fn for every wrapping key, pooled ones with an
	// empty KeyID, until it returns false.
	EachWrapping(ctx context.Context, fn func(*WrappingKey) bool) error
	// DueWrapping calls fn for every issued wrapping key whose Expires is
	// not after until, earliest first, until it returns false; fn may write.
	DueWrapping(ctx context.Context, until time.Time, fn func(*WrappingKey) bool) error
}

// AccessKeys are the API credentials.
type AccessKeys interface {
	// PutAccessKey creates an access key; ErrExists if the id is taken.
	PutAccessKey(ctx context.Context, a *AccessKey) error
	GetAccessKey(ctx context.Context, id string) (*AccessKey, error)
	UpdateAccessKey(ctx context.Context, id string, fn func(*AccessKey) error) (*AccessKey, error)
	// DeleteAccessKey removes an access key; ErrNotFound if absent.
	DeleteAccessKey(ctx context.Context, id string) error
	ListAccessKeys(ctx context.Context) ([]*AccessKey, error)
}

// Users are the account's principals and their policies.
type Users interface {
	// PutUser creates a user; ErrExists if the name is taken.
	PutUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, name string) (*User, error)
	UpdateUser(ctx context.Context, name string, fn func(*User) error) (*User, error)
	// DeleteUser removes a user; ErrNotFound if absent. Its access keys
	// are the caller's to remove first.
	DeleteUser(ctx context.Context, name string) error
	// ListUsers returns every user in name order.
	ListUsers(ctx context.Context) ([]*User, error)
}

// Settings are the deployment's named settings (the Meta names).
type Settings interface {
	// Meta returns one of the deployment's settings, "" when unset.
	Meta(ctx context.Context, name string) (string, error)
	// InitMeta sets a setting unless it is set already, atomically, and
	// returns the value that holds: several processes racing to set one
	// all end with the same value.
	InitMeta(ctx context.Context, name, value string) (string, error)
}

// Ledger is the list of token objects this store made or adopted, the only
// objects it may destroy.
type Ledger interface {
	// OwnObject records the token object id in the ledger before the
	// object exists, so that after a crash reconcile and purge can tell an
	// object made here and never recorded from one another store made with
	// this deployment's id (a migrated copy, a restored backup). Recording
	// an owned id again keeps its first time.
	OwnObject(ctx context.Context, id string, at time.Time) error
	// DisownObject removes an object from the ledger once it is destroyed.
	DisownObject(ctx context.Context, id string) error
	// EachOwned calls fn for every object in the ledger until it returns false.
	EachOwned(ctx context.Context, fn func(id string, since time.Time) bool) error
}

// Leases are the work only one process of a deployment may do at a time
// (refilling the pool, collecting, reconciling the token).
type Leases interface {
	// Shared reports whether other processes (replicas) may use the store
	// at the same time.
	Shared() bool
	// TryLease takes the named lease unless a process (this one included)
	// holds it. A lease is given up by release, or when its holder dies.
	TryLease(ctx context.Context, name string) (release func(), ok bool, err error)
}

// Uses is kept by stores that replicas share, so that a nonce used on one
// replica is refused on all. A single process keeps uses in memory instead
// (wire.Replays), where they cost no write.
type Uses interface {
	// RecordUse records u unless a use of the same value and credential is
	// recorded and not expired at now, and says whether it recorded it.
	RecordUse(ctx context.Context, u Use, now time.Time) (fresh bool, err error)
	// ForgetUses deletes uses expired at now.
	ForgetUses(ctx context.Context, now time.Time) (int, error)
}
