package hsm

import (
	"errors"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

const (
	sm2FieldBytes = 32
	sm3Size       = 32
	// sm2MaxMessage bounds C2. Wrapped key material is at most 32 bytes; the
	// bound only keeps the KDF from running over attacker-sized inputs.
	sm2MaxMessage = 1024
)

var errSM2Ciphertext = errors.New("sm2: malformed ciphertext")

// sm2Ciphertext is a parsed GB/T 32918.4 ciphertext.
type sm2Ciphertext struct {
	x1, y1 *big.Int // C1, checked to be on the curve
	c3     []byte   // SM3(x2 || M || y2)
	c2     []byte   // M xor KDF(x2 || y2)
}

// point returns C1 as an uncompressed SEC 1 point.
func (c *sm2Ciphertext) point() []byte {
	p := make([]byte, 1+2*sm2FieldBytes)
	p[0] = 4
	c.x1.FillBytes(p[1 : 1+sm2FieldBytes])
	c.y1.FillBytes(p[1+sm2FieldBytes:])
	return p
}

// plain returns the ciphertext as 04 || X1 || Y1 || C3 || C2.
func (c *sm2Ciphertext) plain() []byte {
	return append(append(c.point(), c.c3...), c.c2...)
}

// parseSM2Ciphertext accepts the two encodings users send: C1C3C2 with an
// uncompressed C1 (04 || X || Y || C3 || C2), as gmsm and GmSSL write by
// default, and the ASN.1 SEQUENCE {x, y, C3, C2} of GB/T 35276.
func parseSM2Ciphertext(b []byte) (*sm2Ciphertext, error) {
	if len(b) == 0 {
		return nil, errSM2Ciphertext
	}
	var c sm2Ciphertext
	switch b[0] {
	case 0x04:
		const head = 1 + 2*sm2FieldBytes + sm3Size
		if len(b) <= head {
			return nil, errSM2Ciphertext
		}
		c.x1 = new(big.Int).SetBytes(b[1 : 1+sm2FieldBytes])
		c.y1 = new(big.Int).SetBytes(b[1+sm2FieldBytes : 1+2*sm2FieldBytes])
		c.c3 = b[1+2*sm2FieldBytes : head]
		c.c2 = b[head:]
	case 0x30:
		var inner cryptobyte.String
		in := cryptobyte.String(b)
		c.x1, c.y1 = new(big.Int), new(big.Int)
		var c3, c2 []byte
		if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
			!inner.ReadASN1Integer(c.x1) || !inner.ReadASN1Integer(c.y1) ||
			!inner.ReadASN1Bytes(&c3, asn1.OCTET_STRING) ||
			!inner.ReadASN1Bytes(&c2, asn1.OCTET_STRING) || !inner.Empty() {
			return nil, errSM2Ciphertext
		}
		if len(c3) != sm3Size || len(c2) == 0 {
			return nil, errSM2Ciphertext
		}
		c.c3, c.c2 = c3, c2
	default:
		return nil, errSM2Ciphertext
	}
	if len(c.c2) > sm2MaxMessage {
		return nil, errSM2Ciphertext
	}
	p := sm2.P256().Params().P
	if c.x1.Sign() < 0 || c.y1.Sign() < 0 || c.x1.Cmp(p) >= 0 || c.y1.Cmp(p) >= 0 ||
		!sm2.P256().IsOnCurve(c.x1, c.y1) {
		return nil, errSM2Ciphertext
	}
	return &c, nil
}
