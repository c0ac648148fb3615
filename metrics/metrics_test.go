package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyport-kms/keyport/service/wire"
)

// scrape returns the label names of each Keyport series, sorted as the
// exposition sorts them, per sample.
func scrape(t *testing.T, m *Metrics) map[string][]string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	series := map[string][]string{}
	line := regexp.MustCompile(`^(keyport_\w+?)(?:_bucket|_sum|_count)?(?:\{(.*)\})? `)
	for _, l := range strings.Split(string(body), "\n") {
		mm := line.FindStringSubmatch(l)
		if mm == nil {
			continue
		}
		var names []string
		for _, kv := range strings.Split(mm[2], ",") {
			if k, _, ok := strings.Cut(kv, "="); ok && k != "le" {
				names = append(names, k)
			}
		}
		series[mm[1]] = append(series[mm[1]], strings.Join(names, ","))
	}
	return series
}

// Every series has the label names it documents, and no others: labels are
// what a stranger could grow, so each one's set is fixed here.
func TestLabelSets(t *testing.T) {
	m := New("v-test")
	m.Request(wire.Access{Dialect: "aliyun", Action: "Encrypt", Code: "OK", Duration: time.Millisecond})
	m.Request(wire.Access{Dialect: "tencent", Action: "Unknown", Code: "AuthFailure.SignatureFailure", Duration: time.Millisecond})
	m.HSMOperation("decrypt", time.Millisecond)
	m.SessionWait(time.Microsecond)
	m.Watch(func(context.Context) State {
		return State{HSMUp: true, TokenObjects: 7, PoolKnown: true,
			Pooled: map[string]int{"RSA_2048": 3}, Inline: map[string]int64{"EC_SM2": 1}}
	})
	want := map[string]string{
		"keyport_requests_total":                         "action,code,dialect",
		"keyport_request_duration_seconds":               "action,dialect",
		"keyport_hsm_operation_duration_seconds":         "operation",
		"keyport_hsm_session_wait_seconds":               "",
		"keyport_build_info":                             "version",
		"keyport_hsm_up":                                 "",
		"keyport_token_objects":                          "",
		"keyport_wrapping_pool_keys":                     "spec",
		"keyport_wrapping_pool_inline_generations_total": "spec",
	}
	got := scrape(t, m)
	for name, labels := range want {
		if len(got[name]) == 0 {
			t.Errorf("%s missing", name)
		}
		for _, l := range got[name] {
			if l != labels {
				t.Errorf("%s has labels %q, want %q", name, l, labels)
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("series %s is not in the table", name)
		}
	}
}

// A pool that could not be read is left out, not shown as empty.
func TestPoolUnknown(t *testing.T) {
	m := New("v")
	m.Watch(func(context.Context) State { return State{PoolKnown: false, Pooled: map[string]int{"RSA_2048": 3}} })
	got := scrape(t, m)
	if _, ok := got["keyport_wrapping_pool_keys"]; ok {
		t.Error("pool series shown while the pool is unknown")
	}
	if !slices.Equal(got["keyport_hsm_up"], []string{""}) {
		t.Errorf("keyport_hsm_up: %v", got["keyport_hsm_up"])
	}
}
