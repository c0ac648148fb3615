package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"
)

// Key records are kept in a compact binary form, a third the size of their
// JSON: a version byte, then fields as (varint tag, varint length, bytes).
// Readers skip tags they do not know, so fields can be added without a
// migration; a record starting with '{' is the JSON of schema ≤ 3.
const recordV1 = 0x01

// Field tags of a Key. Never reuse a number.
const (
	tagID = iota + 1
	tagVersionID
	tagSpec
	tagUsage
	tagOrigin
	tagProtection
	tagDescription
	tagAlias
	tagCreated
	tagState
	tagDeleteDate
	tagStateBefore
	tagMaterialExp
	tagFingerprint
	tagSealedMat
	tagHSMObject
	tagMaterialGen
	tagSeq
	tagTag                // repeated: one sub-record (key, value) per tag
	tagDeletionProtection // "1" when protected
	tagProtectionNote
	tagPolicy
	tagHSMCluster
	tagAutoRotate // "1" when automatic rotation is on
	tagRotationInterval
	tagLastRotation
	tagVersionCreated
	tagVersion   // repeated: one sub-record per retired version, oldest first
	tagPublicKey // an asymmetric key's public half (SubjectPublicKeyInfo)
)

// Field tags inside a tagTag or tagVersion sub-record.
const (
	subKey = iota + 1
	subValue
	subCreated
	subSealedMat
	subHSMObject
)

type encoder struct{ b []byte }

func (e *encoder) bytes(tag int, v []byte) {
	if len(v) == 0 {
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(tag))
	e.b = binary.AppendUvarint(e.b, uint64(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) str(tag int, v string) { e.bytes(tag, []byte(v)) }

// record writes a sub-record, even an empty one: it stands for an element
// (a tag, a version) whose fields may all be zero.
func (e *encoder) record(tag int, sub encoder) {
	e.b = binary.AppendUvarint(e.b, uint64(tag))
	e.b = binary.AppendUvarint(e.b, uint64(len(sub.b)))
	e.b = append(e.b, sub.b...)
}

func (e *encoder) uint(tag int, v uint64) {
	if v != 0 {
		e.bytes(tag, binary.AppendUvarint(nil, v))
	}
}

func (e *encoder) bool(tag int, v bool) {
	if v {
		e.bytes(tag, []byte{'1'})
	}
}

func (e *encoder) time(tag int, t time.Time) {
	if !t.IsZero() {
		e.bytes(tag, binary.AppendVarint(nil, t.UnixNano()))
	}
}

var errRecord = errors.New("malformed record")

type decoder struct{ b []byte }

// next reads one field; ok is false at the end.
func (d *decoder) next() (tag int, v []byte, ok bool, err error) {
	if len(d.b) == 0 {
		return 0, nil, false, nil
	}
	t, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, nil, false, errRecord
	}
	l, m := binary.Uvarint(d.b[n:])
	if m <= 0 || uint64(len(d.b)-n-m) < l {
		return 0, nil, false, errRecord
	}
	v = d.b[n+m : n+m+int(l)]
	d.b = d.b[n+m+int(l):]
	return int(t), v, true, nil
}

func uvarint(v []byte) (uint64, error) {
	x, n := binary.Uvarint(v)
	if n != len(v) {
		return 0, errRecord
	}
	return x, nil
}

func timeOf(v []byte) (time.Time, error) {
	x, n := binary.Varint(v)
	if n != len(v) {
		return time.Time{}, errRecord
	}
	return time.Unix(0, x).UTC(), nil
}

// EncodeKey is a key record as every backend keeps it.
func EncodeKey(k *Key) []byte {
	e := encoder{b: append(make([]byte, 0, 256), recordV1)}
	e.str(tagID, k.ID)
	e.str(tagVersionID, k.VersionID)
	e.str(tagSpec, k.Spec)
	e.str(tagUsage, k.Usage)
	e.str(tagOrigin, k.Origin)
	e.str(tagProtection, k.Protection)
	e.str(tagDescription, k.Description)
	e.str(tagAlias, k.Alias)
	e.time(tagCreated, k.Created)
	e.str(tagState, k.State)
	e.time(tagDeleteDate, k.DeleteDate)
	e.str(tagStateBefore, k.StateBefore)
	e.time(tagMaterialExp, k.MaterialExp)
	e.bytes(tagFingerprint, k.Fingerprint)
	e.bytes(tagSealedMat, k.SealedMat)
	e.bytes(tagPublicKey, k.PublicKey)
	e.str(tagHSMObject, k.HSMObject)
	e.uint(tagMaterialGen, uint64(k.MaterialGen))
	e.uint(tagSeq, k.Seq)
	for _, name := range slices.Sorted(maps.Keys(k.Tags)) {
		sub := encoder{}
		sub.str(subKey, name)
		sub.str(subValue, k.Tags[name])
		e.record(tagTag, sub)
	}
	e.bool(tagDeletionProtection, k.DeletionProtection)
	e.str(tagProtectionNote, k.ProtectionNote)
	e.str(tagPolicy, k.Policy)
	e.str(tagHSMCluster, k.HSMCluster)
	e.bool(tagAutoRotate, k.AutoRotate)
	e.uint(tagRotationInterval, uint64(k.RotationInterval/time.Second))
	e.time(tagLastRotation, k.LastRotation)
	e.time(tagVersionCreated, k.VersionCreated)
	for _, v := range k.Versions {
		sub := encoder{}
		sub.str(subKey, v.ID)
		sub.time(subCreated, v.Created)
		sub.bytes(subSealedMat, v.SealedMat)
		sub.str(subHSMObject, v.HSMObject)
		e.record(tagVersion, sub)
	}
	return e.b
}

// decodeSub reads a sub-record's fields into fields by tag.
func decodeSub(b []byte, fn func(tag int, v []byte) error) error {
	d := decoder{b: b}
	for {
		tag, v, ok, err := d.next()
		if err != nil || !ok {
			return err
		}
		if err := fn(tag, v); err != nil {
			return err
		}
	}
}

// arena holds one copy of a record, as bytes and as text, that the decoded
// fields point into: a key with fifty versions decodes in three
// allocations, not two hundred, so that retired versions cost the hot path
// (every Encrypt reads its key) next to nothing.
type arena struct {
	b []byte
	s string
}

func newArena(b []byte) arena {
	own := make([]byte, len(b)) // cap == len: offsets are cap(own) - cap(v)
	copy(own, b)
	return arena{b: own, s: string(own)}
}

// str is v, a slice of a.b, as text; without an arena (a.b nil), a copy.
func (a arena) str(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if a.b == nil {
		return string(v)
	}
	i := cap(a.b) - cap(v)
	return a.s[i : i+len(v)]
}

// bytes is v, a slice of a.b, with no room to grow into the next field.
func (a arena) bytes(v []byte) []byte {
	if len(v) == 0 {
		return nil
	}
	if a.b == nil {
		return append([]byte(nil), v...)
	}
	return v[:len(v):len(v)]
}

// DecodeKey decodes a key record, in either form.
func DecodeKey(b []byte) (*Key, error) { return decodeKeyParts(b, true) }

// DecodePrimary decodes a key without its retired versions (Versions nil):
// what Encrypt needs, at the same cost whatever the number of versions.
func DecodePrimary(b []byte) (*Key, error) { return decodeKeyParts(b, false) }

func decodeKeyParts(b []byte, versions bool) (*Key, error) {
	k := new(Key)
	if len(b) > 0 && b[0] == '{' {
		return k, json.Unmarshal(b, k)
	}
	if len(b) == 0 || b[0] != recordV1 {
		return nil, errRecord
	}
	// Decoding the primary version alone copies only its few fields; a
	// whole record is copied once, into an arena.
	var a arena
	d := decoder{b: b[1:]}
	if versions {
		a = newArena(b[1:])
		d.b = a.b
	}
	for {
		tag, v, ok, err := d.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return k, nil
		}
		var str *string
		var tm *time.Time
		switch tag {
		case tagID:
			str = &k.ID
		case tagVersionID:
			str = &k.VersionID
		case tagSpec:
			str = &k.Spec
		case tagUsage:
			str = &k.Usage
		case tagOrigin:
			str = &k.Origin
		case tagProtection:
			str = &k.Protection
		case tagDescription:
			str = &k.Description
		case tagAlias:
			str = &k.Alias
		case tagState:
			str = &k.State
		case tagStateBefore:
			str = &k.StateBefore
		case tagHSMObject:
			str = &k.HSMObject
		case tagCreated:
			tm = &k.Created
		case tagDeleteDate:
			tm = &k.DeleteDate
		case tagMaterialExp:
			tm = &k.MaterialExp
		case tagProtectionNote:
			str = &k.ProtectionNote
		case tagPolicy:
			str = &k.Policy
		case tagHSMCluster:
			str = &k.HSMCluster
		case tagLastRotation:
			tm = &k.LastRotation
		case tagVersionCreated:
			tm = &k.VersionCreated
		}
		switch {
		case str != nil:
			*str = a.str(v)
		case tm != nil:
			if *tm, err = timeOf(v); err != nil {
				return nil, err
			}
		case tag == tagFingerprint:
			k.Fingerprint = a.bytes(v)
		case tag == tagSealedMat:
			k.SealedMat = a.bytes(v)
		case tag == tagPublicKey:
			k.PublicKey = a.bytes(v)
		case tag == tagMaterialGen:
			n, err := uvarint(v)
			if err != nil {
				return nil, err
			}
			k.MaterialGen = int(n)
		case tag == tagSeq:
			if k.Seq, err = uvarint(v); err != nil {
				return nil, err
			}
		case tag == tagDeletionProtection:
			k.DeletionProtection = true
		case tag == tagAutoRotate:
			k.AutoRotate = true
		case tag == tagRotationInterval:
			n, err := uvarint(v)
			if err != nil {
				return nil, err
			}
			k.RotationInterval = time.Duration(n) * time.Second
		case tag == tagTag:
			var name, value string
			if err := decodeSub(v, func(t int, v []byte) error {
				switch t {
				case subKey:
					name = a.str(v)
				case subValue:
					value = a.str(v)
				}
				return nil
			}); err != nil {
				return nil, err
			}
			if k.Tags == nil {
				k.Tags = map[string]string{}
			}
			k.Tags[name] = value
		case tag == tagVersion && !versions:
			k.Retired++
		case tag == tagVersion:
			var kv KeyVersion
			if err := decodeSub(v, func(t int, v []byte) (err error) {
				switch t {
				case subKey:
					kv.ID = a.str(v)
				case subCreated:
					kv.Created, err = timeOf(v)
				case subSealedMat:
					kv.SealedMat = a.bytes(v)
				case subHSMObject:
					kv.HSMObject = a.str(v)
				}
				return err
			}); err != nil {
				return nil, err
			}
			k.Versions = append(k.Versions, kv)
		}
	}
}
