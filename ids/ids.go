// Package ids makes the random identifiers both APIs use: key ids, request
// ids, signature nonces. It imports nothing of Keyport's, so that a client
// can use it without linking the server.
package ids

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// NewUUID returns a random (version 4) UUID in lower case, the form key ids take.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// NewRequestID returns a random request id, an upper-case UUID as the clouds send.
func NewRequestID() string { return strings.ToUpper(NewUUID()) }
