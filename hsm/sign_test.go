package hsm_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyport-kms/keyport/hsm"
)

// Every signing spec SoftHSM2 generates signs with each algorithm that
// fits it, the signature checks against the public key, and the private
// half is sensitive, never extractable, may only sign, and only with its
// algorithms' mechanisms.
func TestSigningKeys(t *testing.T) {
	h, _ := openToken(t)
	ctx := ctxT(t)
	caps := h.Capabilities()
	// SoftHSM2 signs everything but SM2DSA, which it has no mechanism for
	// (its ECDSA on the SM2 curve is not an SM2 signature).
	for _, a := range hsm.SignAlgorithms() {
		if caps.Sign[a] != (a != hsm.SM2DSA) {
			t.Errorf("the probe found SoftHSM2 signs %s: %v", a, caps.Sign[a])
		}
	}
	digest := sha256.Sum256([]byte("signed in the token"))
	for _, spec := range hsm.SigningSpecs() {
		if testing.Short() && spec == hsm.SignRSA4096 {
			continue // seconds of prime search
		}
		kp, err := h.GenerateSigningPair(ctx, spec, "keyport-test-sign", "")
		if spec == hsm.SignSM2 {
			if !errors.Is(err, hsm.ErrUnsupported) || caps.SigningSpecs[spec] {
				t.Errorf("SM2 signing pair on SoftHSM2: %v, want ErrUnsupported", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("generate %s: %v", spec, err)
		}
		for _, a := range hsm.SignAlgorithms() {
			sig, err := h.Sign(ctx, kp.ID, a, digest[:])
			if !a.Fits(spec) {
				if !errors.Is(err, hsm.ErrUnsupported) {
					t.Errorf("%s with a %s key: %v, want ErrUnsupported", a, spec, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s with %s: %v", a, spec, err)
			}
			if ok, err := hsm.Verify(kp.PublicDER, a, digest[:], sig); !ok || err != nil {
				t.Errorf("%s with %s: the signature does not verify (%v)", a, spec, err)
			}
			other := sha256.Sum256([]byte("something else"))
			if ok, _ := hsm.Verify(kp.PublicDER, a, other[:], sig); ok {
				t.Errorf("%s with %s: the signature verifies another digest", a, spec)
			}
		}
		err = hsm.Raw(ctx, h, kp.ID, func(mod *pkcs11.Ctx, s pkcs11.SessionHandle, key pkcs11.ObjectHandle) error {
			attrs, err := mod.GetAttributeValue(s, key, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, nil),
				pkcs11.NewAttribute(pkcs11.CKA_ALLOWED_MECHANISMS, nil),
			})
			if err != nil {
				return err
			}
			if attrs[0].Value[0] != 1 || attrs[1].Value[0] != 0 || attrs[2].Value[0] != 1 || attrs[3].Value[0] != 0 {
				t.Errorf("%s: sensitive=%v extractable=%v never_extractable=%v decrypt=%v", spec, attrs[0].Value, attrs[1].Value, attrs[2].Value, attrs[3].Value)
			}
			var got []uint
			for v := attrs[4].Value; len(v) >= 8; v = v[8:] {
				got = append(got, uint(binary.NativeEndian.Uint64(v)))
			}
			ec := spec == hsm.SignECP256 || spec == hsm.SignECP256K
			want := []uint{pkcs11.CKM_ECDSA}
			if !ec {
				want = []uint{pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_PSS}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: allowed mechanisms %#x, want %#x", spec, got, want)
			}
			secret := uint(pkcs11.CKA_PRIVATE_EXPONENT)
			if ec {
				secret = pkcs11.CKA_VALUE
			}
			if _, err := mod.GetAttributeValue(s, key, []*pkcs11.Attribute{pkcs11.NewAttribute(secret, nil)}); err == nil {
				t.Errorf("%s: the private key's value could be read", spec)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Delete(ctx, kp.ID); err != nil {
			t.Fatal(err)
		}
	}
}
