package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// Records round-trip through the compact encoding; JSON records of
// schema ≤ 3 still read.
func TestKeyCodec(t *testing.T) {
	k := &Key{ID: "id", VersionID: "v", Spec: "Aliyun_AES_256", Usage: "ENCRYPT/DECRYPT", Origin: "EXTERNAL", Protection: "HSM",
		Description: "d", Alias: "a", Created: time.Unix(1, 2).UTC(), State: "Enabled", DeleteDate: time.Unix(3, 0).UTC(),
		StateBefore: "Disabled", MaterialExp: time.Unix(5, 0).UTC(), Fingerprint: []byte{1, 2}, SealedMat: []byte{3}, PublicKey: []byte{4, 5},
		HSMObject: "o", MaterialGen: 7, Seq: 300}
	got, err := DecodeKey(EncodeKey(k))
	if err != nil || !reflect.DeepEqual(got, k) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	js, _ := json.Marshal(k)
	if old, err := DecodeKey(js); err != nil || old.ID != "id" || old.MaterialGen != 7 {
		t.Fatalf("JSON: %+v, %v", old, err)
	}
	if len(EncodeKey(k)) >= len(js)/2 {
		t.Errorf("compact %d bytes vs JSON %d", len(EncodeKey(k)), len(js))
	}
	for _, bad := range [][]byte{nil, {2}, {recordV1, 1, 5, 'x'}, {recordV1, 9, 1}} {
		if _, err := DecodeKey(bad); err == nil {
			t.Errorf("%x decoded", bad)
		}
	}
}

func FuzzDecodeKey(f *testing.F) {
	f.Add(EncodeKey(&Key{ID: "x", Created: time.Unix(1, 0), SealedMat: []byte{1}}))
	f.Add([]byte(`{"id":"x"}`))
	f.Add(EncodeKey(&Key{ID: "y", Tags: map[string]string{"": "", "a": "b"}, AutoRotate: true, RotationInterval: time.Hour,
		Versions: []KeyVersion{{}, {ID: "v1", Created: time.Unix(2, 0), SealedMat: []byte{2}, HSMObject: "o"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil || len(b) == 0 || b[0] != recordV1 {
			return
		}
		if again, err := DecodeKey(EncodeKey(k)); err != nil || !reflect.DeepEqual(again, k) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", k, again, err)
		}
	})
}
