package aliyun

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzParseRequest: whatever query and form body arrive, parsing never
// panics, and an accepted request has its action and each parameter once.
func FuzzParseRequest(f *testing.F) {
	f.Add("Action=ListKeys&Format=json", "KeyId=k")
	f.Add("%zz", "")
	f.Add("a=1&a=2", "")
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req, err := parse(httptest.NewRecorder(), r)
		if err != nil {
			return
		}
		if req.action == "" || req.params["Action"] != req.action {
			t.Fatalf("accepted without an action: %q %q", query, body)
		}
	})
}
