package hsm

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/miekg/pkcs11"
)

func attrOf(tmpl []*pkcs11.Attribute, typ uint) *pkcs11.Attribute {
	for _, a := range tmpl {
		if a.Type == typ {
			return a
		}
	}
	return nil
}

// Each SM2 profile builds templates with its key type and the SM2 curve,
// generates with its mechanism, lets the private key decrypt with the
// vendor mechanism (or only derive, for ECDH) and lists that mechanism in
// CKA_ALLOWED_MECHANISMS.
func TestSM2ProfileTemplates(t *testing.T) {
	for _, p := range SM2Profiles {
		t.Run(p.Name, func(t *testing.T) {
			caps := Capabilities{Decrypt: map[Algorithm]Path{SM2PKE: PathECDH}, AllowedMechanisms: true, Unmodifiable: true}
			if p.vendor() {
				caps.Decrypt[SM2PKE] = PathVendor
			}
			h := &HSM{cfg: Config{sm2: p}, caps: caps}
			pub, priv := h.pairTemplates(SM2, []byte{1}, "l")
			for _, tmpl := range [][]*pkcs11.Attribute{pub, priv} {
				if kt := attrOf(tmpl, pkcs11.CKA_KEY_TYPE); kt == nil || attrUint(kt) != p.KeyType {
					t.Fatalf("key type %v, want %#x", kt, p.KeyType)
				}
			}
			if ec := attrOf(pub, pkcs11.CKA_EC_PARAMS); ec == nil || !bytes.Equal(ec.Value, sm2ECParams) {
				t.Fatal("public template without the SM2 curve")
			}
			if m := h.keyGenMechanism(SM2)[0].Mechanism; m != p.KeyGen {
				t.Fatalf("generation mechanism %#x, want %#x", m, p.KeyGen)
			}
			if attrBool(attrOf(priv, pkcs11.CKA_DECRYPT)) != p.vendor() || attrBool(attrOf(priv, pkcs11.CKA_DERIVE)) == p.vendor() ||
				attrBool(attrOf(priv, pkcs11.CKA_SIGN)) || attrBool(attrOf(priv, pkcs11.CKA_EXTRACTABLE)) || !attrBool(attrOf(priv, pkcs11.CKA_SENSITIVE)) {
				t.Fatal("private usage")
			}
			allowed := attrOf(priv, pkcs11.CKA_ALLOWED_MECHANISMS)
			want := uint(pkcs11.CKM_ECDH1_DERIVE)
			if p.vendor() {
				want = p.Decrypt
			}
			if allowed == nil || len(allowed.Value) != 8 || uint(binary.NativeEndian.Uint64(allowed.Value)) != want {
				t.Fatalf("allowed mechanisms %v, want [%#x]", allowed, want)
			}
		})
	}
	if _, err := sm2ProfileNamed("nope"); err == nil || !strings.Contains(err.Error(), "ecdh, tass, sansec, luna") {
		t.Fatalf("unknown profile: %v", err)
	}
	if p, err := sm2ProfileNamed(""); err != nil || p.Name != "ecdh" {
		t.Fatalf("default: %+v %v", p, err)
	}
	if err := (&Config{Module: "/dev/null", TokenLabel: "x", PIN: "1", SM2Profile: "nope"}).Validate(); err == nil {
		t.Fatal("an unknown SM2 profile passed validation")
	}
}

// The ciphertext conversions a vendor mechanism may need: the layout gmsm
// writes, C1 without its 04, and the GM/T 0009 ASN.1 form (checked against
// gmsm's own conversion); each parses back to the same ciphertext.
func TestSM2Encodings(t *testing.T) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // coordinates with and without a high bit or leading zeros
		plain, err := sm2.Encrypt(rand.Reader, &key.PublicKey, []byte("thirty-two bytes of key material"), nil)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parseSM2Ciphertext(plain)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := SM2C1C3C2.encode(parsed); !bytes.Equal(got, plain) {
			t.Fatal("C1C3C2 is not gmsm's layout")
		}
		if got, _ := SM2C1C3C2Raw.encode(parsed); !bytes.Equal(got, plain[1:]) {
			t.Fatal("raw C1C3C2 is not the layout without 04")
		}
		der, err := SM2ASN1.encode(parsed)
		if err != nil {
			t.Fatal(err)
		}
		want, err := sm2.PlainCiphertext2ASN1(plain, sm2.C1C3C2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(der, want) {
			t.Fatalf("ASN.1 form differs from gmsm's:\n%x\n%x", der, want)
		}
		back, err := parseSM2Ciphertext(der)
		if err != nil || !bytes.Equal(back.plain(), plain) {
			t.Fatalf("ASN.1 form does not parse back: %v", err)
		}
		if m, err := sm2.Decrypt(key, der); err != nil || string(m) != "thirty-two bytes of key material" {
			t.Fatalf("gmsm cannot decrypt the ASN.1 form: %v", err)
		}
	}
}
