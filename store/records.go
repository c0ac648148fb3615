package store

import (
	"time"
)

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
	SealedMat   []byte    `json:"sealed_material,omitempty"` // material sealed by the HSM master key (asymmetric keys: the private key, PKCS#8)
	PublicKey   []byte    `json:"public_key,omitempty"`      // an asymmetric key's public half, SubjectPublicKeyInfo DER
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
	User         string    `json:"user,omitempty"` // the user it belongs to; "" for the account root
	SealedSecret []byte    `json:"sealed_secret"`
	Created      time.Time `json:"created"`
	Disabled     bool      `json:"disabled,omitempty"`
	Description  string    `json:"description,omitempty"`
}

// Use is one use of a value that must not be used twice while it is
// accepted: a request's signature nonce, kept as a digest.
type Use struct {
	Credential string
	Value      [16]byte  // digest of the value
	Until      time.Time // when it may be forgotten
}

// User is a principal of the account: it starts with no rights and gets
// them from its named policies (RAM or CAM documents, kept as written).
type User struct {
	Name     string            `json:"name"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated,omitzero"`
	Policies map[string]string `json:"policies,omitempty"` // policy name → document
}
