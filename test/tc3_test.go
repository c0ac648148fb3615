package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// tc3Auth signs a JSON POST as Tencent Cloud's published TC3-HMAC-SHA256
// algorithm says, independently of Keyport's code.
func tc3Auth(secretID, secret, service, host, timestamp, date, body string) string {
	h := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	mac := func(k []byte, s string) []byte { m := hmac.New(sha256.New, k); m.Write([]byte(s)); return m.Sum(nil) }
	cr := "POST\n/\n\ncontent-type:application/json\nhost:" + host + "\n\ncontent-type;host\n" + h(body)
	scope := date + "/" + service + "/tc3_request"
	sts := "TC3-HMAC-SHA256\n" + timestamp + "\n" + scope + "\n" + h(cr)
	k := mac(mac(mac([]byte("TC3"+secret), date), service), "tc3_request")
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=content-type;host, Signature=" + hex.EncodeToString(mac(k, sts))
}
