package hsm

import (
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// SM2Profile says how a token makes SM2 keys and decrypts SM2PKE with them.
// Chinese HSMs define vendor key types and mechanisms for SM2; a profile
// names them, and the ciphertext encoding the vendor's decrypt mechanism
// takes. The default, "ecdh", needs no vendor mechanism: CKK_EC keys on the
// SM2 curve and CKM_ECDH1_DERIVE, with the SM3 KDF in Keyport.
type SM2Profile struct {
	Name    string
	KeyType uint        // CKA_KEY_TYPE of SM2 keys
	KeyGen  uint        // key-pair generation mechanism
	Decrypt uint        // SM2 decryption mechanism; 0: CKM_ECDH1_DERIVE + SM3 KDF here
	Input   SM2Encoding // what Decrypt takes
	// Validated says whether the profile was run on the vendor's hardware.
	// None has been yet: the values come from the vendors' headers as
	// xipki/ipkcs11wrapper's vendor.conf records them.
	Validated bool
}

// SM2Encoding is a layout of an SM2 ciphertext (GB/T 32918.4 C1, C3, C2).
type SM2Encoding int

const (
	SM2C1C3C2    SM2Encoding = iota // 04 ‖ x ‖ y ‖ C3 ‖ C2, as gmsm and GmSSL write
	SM2C1C3C2Raw                    // x ‖ y ‖ C3 ‖ C2: C1 without the 04 (GM/T 0018 style)
	SM2ASN1                         // SEQUENCE {x INTEGER, y INTEGER, C3 OCTET STRING, C2 OCTET STRING} (GM/T 0009)
)

// SM2Profiles are the profiles `--sm2-profile` names.
var SM2Profiles = []SM2Profile{
	{Name: "ecdh", KeyType: pkcs11.CKK_EC, KeyGen: pkcs11.CKM_EC_KEY_PAIR_GEN, Validated: true},       // SoftHSM2, and any token with EC on the SM2 curve
	{Name: "tass", KeyType: 0x80000004, KeyGen: 0x80008001, Decrypt: 0x80008200, Input: SM2C1C3C2Raw}, // CKK_VENDOR_SM2, CKM_VENDOR_SM2_KEY_PAIR_GEN, CKM_SM2_RAW
	{Name: "sansec", KeyType: 0x80000004, KeyGen: 0x80008001, Decrypt: 0x80000201, Input: SM2ASN1},    // its DER variant, CKM_SM2_RAW_DER
	{Name: "luna", KeyType: 0x80000016, KeyGen: 0x80000B20},                                           // no SM2 decryption mechanism: ECDH derive on its SM2 keys
}

// sm2ProfileNamed finds a profile; "" is the default.
func sm2ProfileNamed(name string) (SM2Profile, error) {
	if name == "" {
		name = "ecdh"
	}
	var names []string
	for _, p := range SM2Profiles {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return SM2Profile{}, fmt.Errorf("hsm: SM2 profile %q: use one of %s", name, strings.Join(names, ", "))
}

// encode lays a parsed ciphertext out as enc.
func (enc SM2Encoding) encode(c *sm2Ciphertext) ([]byte, error) {
	switch enc {
	case SM2C1C3C2:
		return c.plain(), nil
	case SM2C1C3C2Raw:
		return c.plain()[1:], nil
	case SM2ASN1:
		return asn1.Marshal(struct {
			X, Y   asn1.RawValue
			C3, C2 []byte
		}{X: asn1Int(c.x1.Bytes()), Y: asn1Int(c.y1.Bytes()), C3: c.c3, C2: c.c2})
	}
	return nil, fmt.Errorf("SM2 encoding %d", enc)
}

// asn1Int is a non-negative INTEGER from big-endian magnitude bytes.
func asn1Int(mag []byte) asn1.RawValue {
	if len(mag) == 0 || mag[0]&0x80 != 0 {
		mag = append([]byte{0}, mag...)
	}
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagInteger, Bytes: mag}
}

// mechanism is the profile's decrypt mechanism, for DecryptInit.
func (p SM2Profile) mechanism() []*pkcs11.Mechanism {
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(p.Decrypt, nil)}
}

// vendor reports whether the profile decrypts with a vendor mechanism.
func (p SM2Profile) vendor() bool { return p.Decrypt != 0 }
