package store

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkDecodeKey(b *testing.B) {
	for _, n := range []int{0, MaxKeyVersions - 1} {
		k := &Key{ID: "8a95e0a2-0000-4000-8000-000000000000", VersionID: "8a95e0a2-0000-4000-8000-000000000001", Spec: "Aliyun_AES_256", Created: time.Now(), SealedMat: make([]byte, 80)}
		for i := 0; i < n; i++ {
			k.Versions = append(k.Versions, KeyVersion{ID: fmt.Sprintf("8a95e0a2-0000-4000-8000-%012d", i), Created: time.Now(), SealedMat: make([]byte, 80)})
		}
		rec := EncodeKey(k)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := DecodeKey(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
