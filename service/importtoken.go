package service

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Import token, version 1 (docs/import-token.md says the same). Base64
// (standard alphabet, padded) of:
//
//	1   version, 0x01
//	16  random token id
//	1+n KeyId (length byte, ASCII)
//	1+m wrapping key id (length byte, ASCII hex)
//	1   wrapping algorithm (1 PKCS1_V1_5, 2 OAEP_SHA_1, 3 OAEP_SHA_256, 4 SM2PKE,
//	    5 RSA_AES_KEY_WRAP_SHA_1, 6 RSA_AES_KEY_WRAP_SHA_256,
//	    7 RSAES_OAEP_SHA_256_AES_256_ECB_PKCS7_PAD, 8 SM2PKE_SM4_ECB)
//	8   expiry, Unix seconds, big-endian
//	32  HMAC-SHA256 in the HSM, under the master MAC key, of
//	    "keyport/import-token/v1\x00" || all the bytes above
//
// The token is not secret (it names only the key and the wrapping key) but
// cannot be forged, moved or extended without the HSM.
const (
	tokenVersion   = 0x01
	tokenIDSize    = 16
	tokenMACSize   = 32
	maxTokenLength = 512 // characters of base64; a real token is about 170
)

var tokenMACTag = []byte("keyport/import-token/v1\x00")

var algCodes = map[WrappingAlgorithm]byte{AlgRSAPKCS1v15: 1, AlgRSAOAEPSHA1: 2, AlgRSAOAEPSHA256: 3, AlgSM2PKE: 4,
	AlgRSAAESKeyWrapSHA1: 5, AlgRSAAESKeyWrapSHA256: 6, AlgRSAOAEPAES256ECB: 7, AlgSM2SM4ECB: 8}

type importToken struct {
	keyID       string
	wrappingKey string
	algorithm   WrappingAlgorithm
	expires     time.Time
}

var errToken = errors.New("malformed import token")

func (s *Service) issueToken(ctx context.Context, t importToken) (string, error) {
	b := []byte{tokenVersion}
	id := make([]byte, tokenIDSize)
	if _, err := rand.Read(id); err != nil {
		return "", wrapErr(KindInternal, err, "token id")
	}
	b = append(b, id...)
	b = append(append(b, byte(len(t.keyID))), t.keyID...)
	b = append(append(b, byte(len(t.wrappingKey))), t.wrappingKey...)
	b = append(b, algCodes[t.algorithm])
	b = binary.BigEndian.AppendUint64(b, uint64(t.expires.Unix()))
	mac, err := s.tok.MAC(ctx, s.macKey, append(append([]byte{}, tokenMACTag...), b...))
	if err != nil {
		return "", hsmError("sign import token", err)
	}
	return base64.StdEncoding.EncodeToString(append(b, mac...)), nil
}

// parseToken decodes a token's fields without checking its MAC.
func parseToken(s string) (importToken, []byte, []byte, error) {
	var t importToken
	if len(s) == 0 || len(s) > maxTokenLength {
		return t, nil, nil, errToken
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < 1+tokenIDSize+2+1+8+tokenMACSize || raw[0] != tokenVersion {
		return t, nil, nil, errToken
	}
	body, mac := raw[:len(raw)-tokenMACSize], raw[len(raw)-tokenMACSize:]
	p := body[1+tokenIDSize:]
	readStr := func() (string, bool) {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return "", false
		}
		v := string(p[1 : 1+int(p[0])])
		p = p[1+int(p[0]):]
		return v, true
	}
	var ok1, ok2 bool
	t.keyID, ok1 = readStr()
	t.wrappingKey, ok2 = readStr()
	if !ok1 || !ok2 || len(p) != 1+8 || t.keyID == "" || t.wrappingKey == "" {
		return t, nil, nil, errToken
	}
	for alg, code := range algCodes {
		if code == p[0] {
			t.algorithm = alg
		}
	}
	if t.algorithm == "" {
		return t, nil, nil, errToken
	}
	t.expires = time.Unix(int64(binary.BigEndian.Uint64(p[1:])), 0).UTC()
	return t, body, mac, nil
}

// verifyToken checks a token's MAC in the HSM; it never decrypts anything.
func (s *Service) verifyToken(ctx context.Context, token string) (importToken, error) {
	t, body, mac, err := parseToken(token)
	if err != nil {
		return t, wrapErr(KindInvalidImportToken, err, "ImportToken is not valid")
	}
	want, err := s.tok.MAC(ctx, s.macKey, append(append([]byte{}, tokenMACTag...), body...))
	if err != nil {
		return t, hsmError("verify import token", err)
	}
	if subtle.ConstantTimeCompare(want, mac) != 1 {
		return t, errorf(KindInvalidImportToken, "ImportToken is not valid")
	}
	return t, nil
}
