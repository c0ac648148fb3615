package service

import (
	"context"
	"crypto/aes"
	"encoding/asn1"

	"github.com/emmansun/gmsm/sm4"

	"github.com/keyport-kms/keyport/asymkey"
	"github.com/keyport-kms/keyport/hsm"
	"github.com/keyport-kms/keyport/keywrap"
	"github.com/keyport-kms/keyport/store"
)

// Importing an asymmetric private key (BYOK for asymmetric keys). Every
// envelope is an ephemeral key encrypted to the wrapping key, which the
// token decrypts, followed by the private key under the ephemeral key:
//
//	RSA_AES_KEY_WRAP_SHA_1/256               RSA-OAEP(AES-256 key) ‖ RFC 5649 of the PKCS#8 key
//	RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD RSA-OAEP-SHA-256(AES-256 key) ‖ AES-256-ECB, PKCS#7 padded, of the PKCS#8 key
//	SM2PKE_SM4_ECB                           SM2(SM4 key) ‖ SM4-ECB of the SM2 key's 32-byte scalar
//
// The private key is opened here for this one import, checked against the
// CMK's spec, and wiped: at HSM level it becomes a token object
// (C_CreateObject: sensitive, never extractable from then on, under the
// policy of a pair the token made for the same use), at SOFTWARE level it
// is sealed as PKCS#8. Its public half is its fingerprint, so a re-import
// accepts only the same key.

// sm4KeySize is the SM4 key SM2PKE_SM4_ECB carries. (One public sample
// draws 32 bytes there; SM4 takes 16, and a 32-byte key is refused.)
const sm4KeySize = 16

func (s *Service) unwrapPrivateKey(ctx context.Context, k *store.Key, w *store.WrappingKey, ct []byte) (newMaterial, error) {
	priv, err := s.openPrivateEnvelope(ctx, w, ct)
	if err != nil {
		return newMaterial{}, err
	}
	defer priv.Wipe()
	if priv.Spec() != asymmetricSpecs[KeySpec(k.Spec)].key {
		return newMaterial{}, hsm.ErrBadCiphertext
	}
	pub, err := priv.Public().MarshalPKIX()
	if err != nil {
		return newMaterial{}, wrapErr(KindInternal, err, "encode public key")
	}
	if ProtectionLevel(k.Protection) == ProtectionHSM {
		id, err := s.newObjectID(ctx)
		if err != nil {
			return newMaterial{}, err
		}
		obj, err := s.tok.ImportPrivateKey(ctx, hsm.PrivateKeyRequest{ID: id, Label: s.materialLabel(k.ID), Key: priv, Sign: purposeOf(k) == purposeSign})
		if err != nil {
			s.abandon(ctx, id, err)
			return newMaterial{}, hsmError("import private key", err)
		}
		return newMaterial{object: string(obj), kcv: pub, public: pub}, nil
	}
	der, err := priv.MarshalPKCS8()
	if err != nil {
		return newMaterial{}, wrapErr(KindInternal, err, "encode private key")
	}
	defer clear(der)
	sealed, err := s.sealMaterial(ctx, k, der)
	if err != nil {
		return newMaterial{}, err
	}
	return newMaterial{sealed: sealed, kcv: pub, public: pub}, nil
}

// openPrivateEnvelope decrypts an envelope's ephemeral key in the HSM and
// the private key under it here. Any failure the ciphertext causes is
// hsm.ErrBadCiphertext.
func (s *Service) openPrivateEnvelope(ctx context.Context, w *store.WrappingKey, ct []byte) (*asymkey.PrivateKey, error) {
	alg := WrappingAlgorithm(w.Algorithm)
	headLen := envelopeHeadLen(alg, WrappingKeySpec(w.Spec), ct)
	if headLen <= 0 || len(ct) <= headLen {
		return nil, hsm.ErrBadCiphertext
	}
	kek, err := s.tok.Decrypt(ctx, hsm.KeyID(w.ID), wrapping[alg].alg, ct[:headLen])
	if err != nil {
		return nil, importError(err)
	}
	defer clear(kek)
	return openEnvelopeBody(alg, kek, ct[headLen:])
}

// envelopeHeadLen is the length of the encrypted ephemeral key at the
// front of an envelope: the RSA modulus, or the SM2 ciphertext of an SM4
// key; 0 if it cannot be told.
func envelopeHeadLen(alg WrappingAlgorithm, spec WrappingKeySpec, ct []byte) int {
	if alg == AlgSM2SM4ECB {
		return sm2CiphertextLen(ct, sm4KeySize)
	}
	return hsmSpec(spec).RSABits() / 8
}

// openEnvelopeBody opens the private key under the ephemeral key kek.
func openEnvelopeBody(alg WrappingAlgorithm, kek, body []byte) (*asymkey.PrivateKey, error) {
	switch alg {
	case AlgSM2SM4ECB:
		if len(kek) != sm4KeySize || len(body) != 32 {
			return nil, hsm.ErrBadCiphertext
		}
		d, err := ecbDecrypt(sm4.NewCipher, kek, body)
		if err != nil {
			return nil, hsm.ErrBadCiphertext
		}
		defer clear(d)
		return privateKeyOr(asymkey.FromScalar(asymkey.SM2, d))
	case AlgRSAOAEPAES256ECB:
		if len(kek) != 32 {
			return nil, hsm.ErrBadCiphertext
		}
		padded, err := ecbDecrypt(aes.NewCipher, kek, body)
		if err != nil {
			return nil, hsm.ErrBadCiphertext
		}
		defer clear(padded)
		der, ok := pkcs7Unpad(padded)
		if !ok {
			return nil, hsm.ErrBadCiphertext
		}
		return privateKeyOr(asymkey.ParsePKCS8(der))
	}
	if len(kek) != 32 { // RSA-AES key wrap
		return nil, hsm.ErrBadCiphertext
	}
	der, err := keywrap.Unwrap(kek, body)
	if err != nil {
		return nil, hsm.ErrBadCiphertext
	}
	defer clear(der)
	return privateKeyOr(asymkey.ParsePKCS8(der))
}

// privateKeyOr is a parsed key, or the envelope's failure.
func privateKeyOr(k *asymkey.PrivateKey, err error) (*asymkey.PrivateKey, error) {
	if err != nil {
		return nil, hsm.ErrBadCiphertext
	}
	return k, nil
}

// sm2CiphertextLen is the length of the SM2 ciphertext of an n-byte
// message at the front of b: a DER SEQUENCE's whole length (GB/T 35276),
// or 04 ‖ x ‖ y ‖ C3 ‖ C2 (97 + n bytes); 0 if b starts with neither.
func sm2CiphertextLen(b []byte, n int) int {
	if len(b) == 0 {
		return 0
	}
	if b[0] == 0x04 {
		return 1 + 64 + 32 + n
	}
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &raw); err == nil && raw.Tag == asn1.TagSequence {
		return len(b) - len(rest)
	}
	return 0
}

// ecbDecrypt decrypts whole blocks in ECB mode, as Alibaba Cloud's
// envelopes use it for one key under a fresh key (where ECB's weakness,
// equal blocks showing, tells nothing of a random key).
func ecbDecrypt[B interface {
	BlockSize() int
	Decrypt(dst, src []byte)
}](newCipher func([]byte) (B, error), key, ct []byte) ([]byte, error) {
	block, err := newCipher(key)
	if err != nil {
		return nil, err
	}
	n := block.BlockSize()
	if len(ct) == 0 || len(ct)%n != 0 {
		return nil, hsm.ErrBadCiphertext
	}
	out := make([]byte, len(ct))
	for i := 0; i < len(ct); i += n {
		block.Decrypt(out[i:i+n], ct[i:i+n])
	}
	return out, nil
}

// pkcs7Unpad strips PKCS#7 padding (RFC 5652 §6.3) of 16-byte blocks.
func pkcs7Unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, false
	}
	p := int(b[len(b)-1])
	if p == 0 || p > aes.BlockSize {
		return nil, false
	}
	for _, c := range b[len(b)-p:] {
		if int(c) != p {
			return nil, false
		}
	}
	return b[:len(b)-p], true
}
