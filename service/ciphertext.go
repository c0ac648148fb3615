package service

import (
	"encoding/binary"
	"errors"
	"sort"
)

// Ciphertext blob, version 1 (docs/ciphertext-format.md says the same):
//
//	0      1  version, 0x01
//	1      1  cipher: 0x01 AES-256-GCM, 0x02 SM4-GCM
//	2      1  n = length of the KeyId
//	3      n  KeyId, ASCII
//	3+n    1  m = length of the KeyVersionId
//	4+n    m  KeyVersionId, ASCII
//	4+n+m  12 GCM nonce
//	...       GCM ciphertext, then the 16-byte tag
//
// The GCM additional data is the header (bytes 0 to 4+n+m) followed by the
// canonical encryption context. Cipher 0x03 is AES-256 in a token without
// AES-GCM: what follows the header is the HSM layer's encrypt-then-MAC
// format ("KP", scheme, IV, ciphertext, HMAC-SHA256 under Keyport's master
// MAC key), with the same additional data.
const (
	blobVersion     = 0x01
	cipherAES256    = 0x01
	cipherSM4       = 0x02
	cipherAES256ETM = 0x03
	nonceSize       = 12
	tagSize         = 16
)

var errBlob = errors.New("malformed ciphertext blob")

type blobHeader struct {
	cipher       byte
	keyID        string
	keyVersionID string
}

func (h blobHeader) marshal() []byte {
	b := []byte{blobVersion, h.cipher, byte(len(h.keyID))}
	b = append(b, h.keyID...)
	b = append(b, byte(len(h.keyVersionID)))
	return append(b, h.keyVersionID...)
}

// parseBlob splits a blob into its header, the header's bytes and the
// sealed part (nonce || ciphertext || tag).
func parseBlob(b []byte) (blobHeader, []byte, []byte, error) {
	var h blobHeader
	if len(b) < 4 || b[0] != blobVersion || (b[1] != cipherAES256 && b[1] != cipherSM4 && b[1] != cipherAES256ETM) {
		return h, nil, nil, errBlob
	}
	h.cipher = b[1]
	n := int(b[2])
	if len(b) < 4+n {
		return h, nil, nil, errBlob
	}
	h.keyID = string(b[3 : 3+n])
	m := int(b[3+n])
	end := 4 + n + m
	if len(b) < end+nonceSize+tagSize || n == 0 || m == 0 {
		return h, nil, nil, errBlob
	}
	h.keyVersionID = string(b[4+n : end])
	return h, b[:end:end], b[end:], nil // capacity capped: appending to the header must not write into the blob
}

// canonicalContext encodes an encryption context so that the same pairs in
// any order give the same bytes: a 4-byte big-endian count, then for each
// pair in byte order of its key, 4-byte length and bytes of the key, then of
// the value. An empty or absent context is the count 0.
func canonicalContext(ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(keys)))
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(ctx[k])))
		out = append(out, ctx[k]...)
	}
	return out
}

func contextSize(ctx map[string]string) int {
	n := 0
	for k, v := range ctx {
		n += len(k) + len(v)
	}
	return n
}
