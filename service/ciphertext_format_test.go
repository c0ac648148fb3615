package service_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"sort"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

// decryptWithMaterial opens a blob following docs/ciphertext-format.md and
// nothing else: no Keyport code, only the material and the context.
func decryptWithMaterial(t *testing.T, blob, material []byte, ec map[string]string) []byte {
	t.Helper()
	if blob[0] != 0x01 {
		t.Fatalf("format version %d", blob[0])
	}
	n := int(blob[2])
	m := int(blob[3+n])
	headerEnd := 4 + n + m
	header, nonce, sealed := blob[:headerEnd], blob[headerEnd:headerEnd+12], blob[headerEnd+12:]

	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	aad := append([]byte{}, header...)
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(keys)))
	for _, k := range keys {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(k)))
		aad = append(aad, k...)
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(ec[k])))
		aad = append(aad, ec[k]...)
	}

	var block cipher.Block
	var err error
	switch blob[1] {
	case 0x01:
		block, err = aes.NewCipher(material)
	case 0x02:
		block, err = sm4.NewCipher(material)
	default:
		t.Fatalf("cipher %d", blob[1])
	}
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := gcm.Open(nil, nonce, sealed, aad)
	if err != nil {
		t.Fatalf("open by the documented format: %v", err)
	}
	return pt
}
