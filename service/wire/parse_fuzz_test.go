package wire

import (
	"testing"
)

func FuzzEncryptionContext(f *testing.F) {
	f.Add(`{"a":"b"}`)
	f.Add(`[1]`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = EncryptionContext(s)
	})
}
