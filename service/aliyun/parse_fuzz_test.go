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

// FuzzParams: the parameters parsed from strings (intervals, tag lists,
// booleans, indexed lists) never panic, and an accepted interval is
// positive.
func FuzzParams(f *testing.F) {
	f.Add("604800s", `[{"TagKey":"a","TagValue":"b"}]`, "true")
	f.Add("7d", "[]", "maybe")
	f.Add("-1d", "{", "")
	f.Fuzz(func(t *testing.T, interval, tags, flag string) {
		p := params{"RotationInterval": interval, "Tags": tags, "DryRun": flag, "ResourceId.1": interval, "ResourceId.2": tags}
		if d, err := p.interval("RotationInterval"); err == nil && d < 0 {
			t.Fatalf("interval %q gave %v", interval, d)
		}
		_, _ = p.jsonTags()
		_, _ = p.boolean("DryRun", false)
		if ids := p.indexed("ResourceId"); len(ids) != 2 {
			t.Fatalf("indexed: %v", ids)
		}
	})
}
