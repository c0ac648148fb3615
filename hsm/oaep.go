package hsm

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"hash"
)

var errOAEP = errors.New("oaep: decoding error")

// oaepDecode removes EME-OAEP padding (RFC 8017 §7.1.2 step 3) from em, the
// raw RSA output of k bytes, in time that does not depend on where or why the
// padding is wrong. It backs RSAES_OAEP_SHA_256 on tokens whose OAEP
// mechanism refuses SHA-256 (SoftHSM2): the token does raw RSA, this does the rest.
// The returned message aliases em.
func oaepDecode(h hash.Hash, em []byte, label []byte) ([]byte, error) {
	hLen := h.Size()
	k := len(em)
	if k < 2*hLen+2 {
		return nil, errOAEP
	}
	h.Reset()
	h.Write(label)
	lHash := h.Sum(nil)

	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	seed := em[1 : hLen+1]
	db := em[hLen+1:]
	mgf1XOR(seed, h, db)
	mgf1XOR(db, h, seed)

	lHash2Good := subtle.ConstantTimeCompare(lHash, db[:hLen])

	// After lHash comes PS (zeros), then 0x01, then the message. Scan the whole
	// of it whatever is found.
	rest := db[hLen:]
	lookingForIndex, index, invalid := 1, 0, 0
	for i := range rest {
		equals0 := subtle.ConstantTimeByteEq(rest[i], 0)
		equals1 := subtle.ConstantTimeByteEq(rest[i], 1)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals1, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals1, 0, lookingForIndex)
		invalid = subtle.ConstantTimeSelect(lookingForIndex&^equals0, 1, invalid)
	}
	if firstByteIsZero&lHash2Good&^invalid&^lookingForIndex != 1 {
		return nil, errOAEP
	}
	return rest[index+1:], nil
}

// oaepHash is the hash (and MGF1 hash) an OAEP algorithm names.
func oaepHash(alg Algorithm) hash.Hash {
	if alg == RSAOAEPSHA256 {
		return sha256.New()
	}
	return sha1.New()
}

// mgf1XOR xors out with MGF1(seed) (RFC 8017 B.2.1).
func mgf1XOR(out []byte, h hash.Hash, seed []byte) {
	var counter [4]byte
	var digest []byte
	done := 0
	for done < len(out) {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		digest = h.Sum(digest[:0])
		for i := 0; i < len(digest) && done < len(out); i++ {
			out[done] ^= digest[i]
			done++
		}
		for i := 3; i >= 0; i-- {
			counter[i]++
			if counter[i] != 0 {
				break
			}
		}
	}
}
