package hsm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyport-kms/keyport/hsm"
)

// SoftHSM2 2.6 refuses SHA-256 with CKM_RSA_PKCS_OAEP and has no SM2
// mechanism: start-up must find the fallbacks. It unwraps with PKCS#1 v1.5
// and OAEP-SHA-1 but leaves CKA_VALUE_LEN at 0, so the material length could
// not be checked: no algorithm may take the unwrap path there.
func TestCapabilitiesOnSoftHSM(t *testing.T) {
	h, _ := openToken(t)
	caps := h.Capabilities()
	want := map[hsm.Algorithm]hsm.Path{
		hsm.RSAPKCS1v15:   hsm.PathNative,
		hsm.RSAOAEPSHA1:   hsm.PathNative,
		hsm.RSAOAEPSHA256: hsm.PathRawRSA,
		hsm.SM2PKE:        hsm.PathECDH,
	}
	for alg, path := range want {
		if got := caps.Decrypt[alg]; got != path {
			t.Errorf("%s decrypts by %s, want %s", alg, got, path)
		}
	}
	for alg, unwrap := range map[hsm.Algorithm]bool{hsm.RSAPKCS1v15: false, hsm.RSAOAEPSHA1: false, hsm.RSAOAEPSHA256: false, hsm.SM2PKE: false} {
		if caps.Unwrap[alg] != unwrap {
			t.Errorf("%s unwrap in token = %v, want %v", alg, caps.Unwrap[alg], unwrap)
		}
	}
	if !caps.SM2Keys {
		t.Error("SM2 key generation not detected")
	}
	// SoftHSMv2 #573: object writes run alone, so pairs are generated as
	// session objects and copied, which keeps their provenance there.
	if !caps.SerialObjectWrites || !caps.CopyToToken {
		t.Errorf("serial object writes %v, generate-then-copy %v; want both", caps.SerialObjectWrites, caps.CopyToToken)
	}
}

// A token without a way to seal or without HMAC-SHA256 is refused at
// start-up, in one line naming the mechanism; one that lacks an algorithm
// only loses that algorithm.
func TestRequiredMechanisms(t *testing.T) {
	for _, tc := range []struct {
		caps hsm.Capabilities
		want string
	}{
		{hsm.Capabilities{Seal: hsm.SealNone, HMAC: true}, "CKM_AES_GCM, CKM_AES_CBC_PAD, CKM_AES_ECB"},
		{hsm.Capabilities{Seal: hsm.SealCTRHMAC, HMAC: false}, "CKM_SHA256_HMAC"},
	} {
		err := tc.caps.Required()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || !errors.Is(err, hsm.ErrUnsupported) {
			t.Errorf("%+v: %v, want one line naming %s", tc.caps, err, tc.want)
		}
	}
	if err := (hsm.Capabilities{Seal: hsm.SealCBCHMAC, HMAC: true}).Required(); err != nil {
		t.Errorf("a token with CBC and HMAC but no RSA path or EC is usable: %v", err)
	}
}
