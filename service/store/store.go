// Package store keeps Keyport's metadata: keys, their sealed material and
// fingerprints, and the wrapping keys issued or pooled. It never holds
// anything that decrypts without the HSM. Store is narrow enough that a
// PostgreSQL implementation can stand beside the embedded bbolt one.
package store

import (
	"context"
	"errors"
	"sync"
	"time"
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
	// MetaRetired says where a store was migrated to, and when: a retired
	// store is refused by every command, so that it never serves (or
	// reconciles the token) beside the copy that replaced it.
	MetaRetired = "retired"
)

// ErrRetired: the store was migrated elsewhere and retired.
var ErrRetired = errors.New("this Keyport store is retired")

// Key is one CMK. Enumerations are kept as the strings the service defines.
type Key struct {
	ID          string    `json:"id"`
	VersionID   string    `json:"version_id"`
	Spec        string    `json:"spec"`
	Usage       string    `json:"usage"`
	Origin      string    `json:"origin"`
	Protection  string    `json:"protection"`
	Description string    `json:"description,omitempty"`
	Alias       string    `json:"alias,omitempty"`
	Created     time.Time `json:"created"`
	State       string    `json:"state"`
	DeleteDate  time.Time `json:"delete_date,omitzero"`
	StateBefore string    `json:"state_before,omitempty"` // state to return to when deletion is cancelled
	MaterialExp time.Time `json:"material_expires,omitzero"`
	Fingerprint []byte    `json:"fingerprint,omitempty"`     // HMAC in the HSM over the material's check value
	SealedMat   []byte    `json:"sealed_material,omitempty"` // material sealed by the HSM master key
	HSMObject   string    `json:"hsm_object,omitempty"`      // id of the material's token object
	MaterialGen int       `json:"material_gen"`              // bumped on every change of material presence
	Seq         uint64    `json:"-"`                         // position in creation order; the store sets it

	Tags               map[string]string `json:"tags,omitempty"`
	DeletionProtection bool              `json:"deletion_protection,omitempty"` // ScheduleKeyDeletion is refused
	ProtectionNote     string            `json:"protection_note,omitempty"`     // why, as the owner wrote it
	Policy             string            `json:"policy,omitempty"`              // a key policy, stored and echoed
	HSMCluster         string            `json:"hsm_cluster,omitempty"`         // the caller's HsmClusterId, echoed (Tencent)

	// Rotation: the primary version is VersionID with the material above;
	// Versions are the retired ones, oldest first, kept so that their
	// ciphertexts still decrypt.
	AutoRotate       bool          `json:"auto_rotate,omitempty"`
	RotationInterval time.Duration `json:"rotation_interval,omitempty"`
	LastRotation     time.Time     `json:"last_rotation,omitzero"`
	VersionCreated   time.Time     `json:"version_created,omitzero"` // of the primary version; Created when zero
	Versions         []KeyVersion  `json:"versions,omitempty"`
	// Retired counts the retired versions of a key read without them
	// (GetPrimary), whose Versions is nil; 0 otherwise.
	Retired int `json:"-"`
}

// PrimarySince is when the primary version was made.
func (k *Key) PrimarySince() time.Time {
	if !k.VersionCreated.IsZero() {
		return k.VersionCreated
	}
	return k.Created
}

// MaxKeyVersions is how many versions a key may have, the primary one
// included (Alibaba Cloud's CreateKeyVersion: at most 50).
const MaxKeyVersions = 50

// NextRotation is when automatic rotation is due; zero when it is off or
// the key has all the versions it may have.
func (k *Key) NextRotation() time.Time {
	if !k.AutoRotate || k.RotationInterval <= 0 || len(k.Versions)+1 >= MaxKeyVersions {
		return time.Time{}
	}
	return k.PrimarySince().Add(k.RotationInterval)
}

// KeyVersion is a retired version of a key's material.
type KeyVersion struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	SealedMat []byte    `json:"sealed_material,omitempty"`
	HSMObject string    `json:"hsm_object,omitempty"`
}

// Objects are the token objects the key refers to: its primary material's
// and every retired version's.
func (k *Key) Objects() []string {
	var out []string
	if k.HSMObject != "" {
		out = append(out, k.HSMObject)
	}
	for _, v := range k.Versions {
		if v.HSMObject != "" {
			out = append(out, v.HSMObject)
		}
	}
	return out
}

// Alias is another name for a key, unique in the deployment. Aliyun names
// start "alias/"; a Tencent Cloud key's one display alias is kept under
// TencentAliasPrefix so that it is unique too.
type Alias struct {
	Name    string    `json:"name"`
	KeyID   string    `json:"key_id"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated,omitzero"`
}

// TencentAliasPrefix names the alias entries of Tencent Cloud display aliases.
const TencentAliasPrefix = "tencent/"

// Deadline is when the collector must look at the key next: the earliest
// of its deletion date, its material's expiry and its next automatic
// rotation; zero if none is set.
func (k *Key) Deadline() time.Time {
	d := k.DeleteDate
	if e := k.MaterialExp; !e.IsZero() && k.HasMaterial() && (d.IsZero() || e.Before(d)) {
		d = e
	}
	if r := k.NextRotation(); !r.IsZero() && k.DeleteDate.IsZero() && (d.IsZero() || r.Before(d)) {
		d = r
	}
	return d
}

// HasMaterial reports whether the key holds material now.
func (k *Key) HasMaterial() bool { return len(k.SealedMat) > 0 || k.HSMObject != "" }

// WrappingKey is an HSM key pair, pooled or issued to one import.
type WrappingKey struct {
	ID        string    `json:"id"` // hsm.KeyID
	Spec      string    `json:"spec"`
	PublicDER []byte    `json:"public_der"`
	Created   time.Time `json:"created"`
	// Set when issued:
	KeyID     string    `json:"key_id,omitempty"`
	Algorithm string    `json:"algorithm,omitempty"`
	Expires   time.Time `json:"expires,omitzero"`
	Failures  int       `json:"failures,omitempty"` // failed decryptions so far
}

// AccessKey is an API credential. The secret is sealed by the HSM.
type AccessKey struct {
	ID           string    `json:"id"`
	SealedSecret []byte    `json:"sealed_secret"`
	Created      time.Time `json:"created"`
	Disabled     bool      `json:"disabled,omitempty"`
	Description  string    `json:"description,omitempty"`
}

// Store is the service's persistence. Every method is atomic; UpdateX runs
// fn inside one write transaction, so fn must be quick and touch no HSM.
type Store interface {
	CreateKey(ctx context.Context, k *Key) error
	// CreateKeys creates several keys in one transaction (bulk loads).
	CreateKeys(ctx context.Context, keys []*Key) error
	GetKey(ctx context.Context, id string) (*Key, error)
	// GetPrimary is GetKey without the retired versions (Versions nil,
	// Retired their number): the hot path's read, whose cost does not grow
	// with a key's versions. Never write back a key read this way.
	GetPrimary(ctx context.Context, id string) (*Key, error)
	UpdateKey(ctx context.Context, id string, fn func(*Key) error) (*Key, error)
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

	// PutAlias creates an alias; ErrExists if the name is taken.
	PutAlias(ctx context.Context, a *Alias) error
	// SetAlias points an existing alias at keyID; ErrNotFound if absent.
	SetAlias(ctx context.Context, name, keyID string, now time.Time) error
	GetAlias(ctx context.Context, name string) (*Alias, error)
	// DeleteAlias removes an alias; ErrNotFound if absent.
	DeleteAlias(ctx context.Context, name string) error
	// ListAliases returns the aliases whose names start with prefix and,
	// if keyID is set, that point at it, in name order. DeleteKey deletes
	// a key's aliases with it.
	ListAliases(ctx context.Context, prefix, keyID string) ([]*Alias, error)

	PutAccessKey(ctx context.Context, a *AccessKey) error
	GetAccessKey(ctx context.Context, id string) (*AccessKey, error)
	UpdateAccessKey(ctx context.Context, id string, fn func(*AccessKey) error) (*AccessKey, error)
	DeleteAccessKey(ctx context.Context, id string) error
	ListAccessKeys(ctx context.Context) ([]*AccessKey, error)

	// Meta returns one of the deployment's settings, "" when unset.
	Meta(ctx context.Context, name string) (string, error)
	// InitMeta sets a setting unless it is set already, atomically, and
	// returns the value that holds: several processes racing to set one
	// all end with the same value.
	InitMeta(ctx context.Context, name, value string) (string, error)

	// OwnObject records in the ledger of owned objects that this store made,
	// or is about to make, the token object id: it is recorded before the
	// object exists, so that after a crash reconcile and purge can tell an
	// object made here and never recorded from one another store made with
	// this deployment's id (a migrated copy, a restored backup). A store
	// destroys only objects in its ledger. Recording an owned id again
	// keeps its first time.
	OwnObject(ctx context.Context, id string, at time.Time) error
	// DisownObject removes an object from the ledger once it is destroyed.
	DisownObject(ctx context.Context, id string) error
	// EachOwned calls fn for every object in the ledger until it returns false.
	EachOwned(ctx context.Context, fn func(id string, since time.Time) bool) error

	// Shared reports whether other processes (replicas) may use the store
	// at the same time.
	Shared() bool
	// TryLease takes the named lease unless a process (this one included)
	// holds it: work only one replica may do at a time (refilling the pool,
	// collecting, reconciling the token) runs under one. A lease is given up
	// by release, or when its holder dies.
	TryLease(ctx context.Context, name string) (release func(), ok bool, err error)

	Close() error
}

// Use is one use of a value that must not be used twice while it is
// accepted: a request's signature nonce, kept as a digest.
type Use struct {
	Credential string
	Value      [16]byte  // digest of the value
	Until      time.Time // when it may be forgotten
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

// localLeases are the leases this process holds, so that a second try
// within the process fails as one from another process does.
type localLeases struct {
	mu   sync.Mutex
	held map[string]bool
}

func (l *localLeases) take(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return false
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[name] = true
	return true
}

func (l *localLeases) drop(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, name)
}
