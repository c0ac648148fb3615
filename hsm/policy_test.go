package hsm_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
)

// A wrapping private key can do only what its algorithms need on this
// token: no unwrap where the probe chose no C_UnwrapKey path (SoftHSM2),
// only the mechanisms of the detected paths where the token enforces
// CKA_ALLOWED_MECHANISMS, and no later change where the token takes
// CKA_MODIFIABLE=false. On SoftHSM2 2.6 the probe finds both enforced.
func TestWrappingKeyPolicy(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	caps := h.Capabilities()
	if !caps.Unmodifiable || !caps.AllowedMechanisms {
		t.Fatalf("SoftHSM2 takes CKA_MODIFIABLE=false and enforces CKA_ALLOWED_MECHANISMS; the probe found %+v", caps)
	}
	want := map[hsm.PairSpec][]uint{
		// PKCS#1 v1.5 and OAEP-SHA-1 native, OAEP-SHA-256 through raw RSA.
		hsm.RSA2048: {pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.CKM_RSA_X_509},
		hsm.SM2:     {pkcs11.CKM_ECDH1_DERIVE},
	}
	for spec, mechs := range want {
		kp, err := h.GenerateKeyPair(ctx, spec, "keyport-test-wrap", "")
		if err != nil {
			t.Fatal(err)
		}
		err = hsm.Raw(ctx, h, kp.ID, func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
			attrs, err := mod.GetAttributeValue(s, key, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, nil),
				pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_ALLOWED_MECHANISMS, nil),
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, nil),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil),
			})
			if err != nil {
				return err
			}
			if attrs[0].Value[0] != 0 || attrs[1].Value[0] != 0 || attrs[3].Value[0] != 0 {
				t.Errorf("%s: unwrap=%v modifiable=%v sign=%v, want all false", spec, attrs[0].Value, attrs[1].Value, attrs[3].Value)
			}
			var got []uint
			for v := attrs[2].Value; len(v) >= 8; v = v[8:] {
				got = append(got, uint(binary.NativeEndian.Uint64(v)))
			}
			slices.Sort(got)
			slices.Sort(mechs)
			if !slices.Equal(got, mechs) {
				t.Errorf("%s: allowed mechanisms %#x, want %#x", spec, got, mechs)
			}
			if string(attrs[4].Value) != "keyport-test-wrap" {
				t.Errorf("%s: label %q", spec, attrs[4].Value)
			}
			// A PIN holder cannot loosen it afterwards.
			if err := mod.SetAttributeValue(s, key, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_SIGN, true)}); err == nil {
				t.Errorf("%s: CKA_SIGN could be turned on", spec)
			}
			// And it refuses a mechanism outside its list.
			if spec == hsm.RSA2048 {
				if err := mod.SignInit(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_RSA_PKCS, nil)}, key); err == nil {
					t.Errorf("RSA wrapping key accepted a signing mechanism")
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A secret key found under a label is used only if the token says it is
// sensitive, never extractable and of the right type: an object planted
// under a Keyport label by someone with the PIN is refused, not trusted.
func TestSecretKeyRefusesUnsafeKeys(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	plant := func(label string, tmpl ...*pkcs11.Attribute) {
		err := hsm.Raw(ctx, h, "", func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, _ pkcs11.ObjectHandle) error {
			_, err := mod.CreateObject(s, append([]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
				pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(label)),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, make([]byte, 32)), // a value the planter knows
			}, tmpl...))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	plant("known-value", pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false))
	plant("extractable", pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true))
	for _, label := range []string{"known-value", "extractable"} {
		if _, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: label, Kind: hsm.AES256}); !errors.Is(err, hsm.ErrUnsafeKey) {
			t.Errorf("%s: %v, want ErrUnsafeKey", label, err)
		}
	}
	mac, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "a-mac-key", Kind: hsm.HMACSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.SecretKey(ctx, hsm.SecretKeyRequest{Label: "a-mac-key", Kind: hsm.AES256}); !errors.Is(err, hsm.ErrUnsafeKey) {
		t.Errorf("an HMAC key taken as AES: %v", err)
	}
	if _, err := h.SecretKey(ctx, hsm.SecretKeyRequest{ID: mac, Kind: hsm.AES256}); !errors.Is(err, hsm.ErrUnsafeKey) {
		t.Errorf("an HMAC key taken as AES by id: %v", err)
	}
	if got, err := h.SecretKey(ctx, hsm.SecretKeyRequest{ID: mac, Kind: hsm.HMACSHA256}); err != nil || got != mac {
		t.Errorf("by id: %s, %v", got, err)
	}
	if _, err := h.SecretKey(ctx, hsm.SecretKeyRequest{ID: "00112233445566778899aabbccddeeff", Kind: hsm.AES256}); !errors.Is(err, hsm.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound (an id is never created)", err)
	}
	// Keys made here cannot be relabelled (CKA_MODIFIABLE=false); objects
	// made before that, like the planted ones, can.
	if err := h.SetLabel(ctx, mac, "renamed"); err == nil {
		t.Error("an unmodifiable key was relabelled")
	}
	planted := hsm.KeyID(hex.EncodeToString([]byte("known-value")))
	if err := h.SetLabel(ctx, planted, "renamed"); err != nil {
		t.Fatal(err)
	}
	objs, err := h.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.ID == string(planted) && o.Label != "renamed" {
			t.Errorf("after SetLabel: %q", o.Label)
		}
	}
}
