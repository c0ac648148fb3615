package policy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, doc string) *Document {
	t.Helper()
	d, err := Parse([]byte(doc), KeyPolicyMaxSize)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return d
}

var (
	keyA = Resource{Region: "cn-hangzhou", Account: "1234", Kind: "key", ID: "key-a"}
	keyB = Resource{Region: "cn-hangzhou", Account: "1234", Kind: "key", ID: "key-b"}
	t0   = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
)

func req(action string, r Resource) Request {
	return Request{Action: action, Resource: r, SourceIP: netip.MustParseAddr("127.0.0.1"), Time: t0,
		Tags: map[string]string{"app": "billing"}, Principal: "acs:ram::1234:user/alice"}
}

// One table for both languages: the same rule written in RAM and in CAM
// decides every request alike.
func TestEvaluate(t *testing.T) {
	type check struct {
		req   Request
		allow bool
	}
	cases := []struct {
		name     string
		ram, cam string
		checks   []check
	}{
		{"action wildcard on one key",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Get*","Resource":"acs:kms:*:*:key/key-a"}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":["name/kms:Get*"],"resource":["qcs::kms:*:uin/*:key/creatorUin/*/key-a"]}]}`,
			[]check{{req("kms:GetParametersForImport", keyA), true}, {req("kms:GetParametersForImport", keyB), false}, {req("kms:Decrypt", keyA), false}}},
		{"explicit deny wins",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":["kms:ScheduleKeyDeletion","kms:DeleteKeyMaterial"],"Resource":"*"}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*"},{"effect":"deny","action":["kms:ScheduleKeyDeletion","kms:DeleteKeyMaterial"],"resource":"*"}]}`,
			[]check{{req("kms:Encrypt", keyA), true}, {req("kms:ScheduleKeyDeletion", keyA), false}, {req("kms:DeleteKeyMaterial", keyB), false}}},
		{"source address",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","127.0.0.1"]}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:Decrypt","resource":"*","condition":{"ip_equal":{"qcs:ip":["10.0.0.0/8","127.0.0.1"]}}}]}`,
			[]check{{req("kms:Decrypt", keyA), true}, {func() Request { r := req("kms:Decrypt", keyA); r.SourceIP = netip.MustParseAddr("127.0.0.2"); return r }(), false}}},
		{"time",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2026-12-08T00:00:00Z"}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:Encrypt","resource":"*","condition":{"date_less_than":{"qcs:current_time":"2026-12-08T00:00:00Z"}}}]}`,
			[]check{{req("kms:Encrypt", keyA), true}, {func() Request { r := req("kms:Encrypt", keyA); r.Time = t0.Add(24 * time.Hour); return r }(), false}}},
		{"tags",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:tag/app":"billing"}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*","condition":{"for_any_value:string_equal":{"qcs:resource_tag":"app&billing"}}}]}`,
			[]check{{req("kms:Decrypt", keyA), true}, {func() Request { r := req("kms:Decrypt", keyA); r.Tags = map[string]string{"app": "shop"}; return r }(), false},
				{func() Request { r := req("kms:Decrypt", keyA); r.Tags = nil; return r }(), false}}},
		{"secure transport denied when off",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":false}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*"},{"effect":"deny","action":"kms:*","resource":"*","condition":{"bool_equal":{"qcs:secure_transport":"false"}}}]}`,
			[]check{{req("kms:Encrypt", keyA), false}, {func() Request { r := req("kms:Encrypt", keyA); r.SecureTransport = true; return r }(), true}}},
		{"unknown condition: an allow never matches",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"Bool":{"acs:MFAPresent":true}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*","condition":{"no_such_operator":{"qcs:ip":"1.2.3.4"}}}]}`,
			[]check{{req("kms:Encrypt", keyA), false}}},
		{"unknown condition: a deny always matches",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"NumericEquals":{"acs:x":1}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*"},{"effect":"deny","action":"kms:Decrypt","resource":"*","condition":{"string_equal":{"qcs:no_such_key":"x"}}}]}`,
			[]check{{req("kms:Decrypt", keyA), false}, {req("kms:Encrypt", keyA), true}}},
		{"negated string",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringNotLike":{"kms:tag/app":"bill*"}}}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*","condition":{"string_not_like":{"qcs:resource_tag":"app&bill*"}}}]}`,
			[]check{{req("kms:Encrypt", keyA), false}, {func() Request { r := req("kms:Encrypt", keyA); r.Tags = map[string]string{"app": "shop"}; return r }(), true}}},
		{"list actions authorise on key/*",
			`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:List*","Resource":"acs:kms:cn-hangzhou:1234:key/*"}]}`,
			`{"version":"2.0","statement":[{"effect":"allow","action":"kms:List*","resource":"qcs::kms:cn-hangzhou:uin/1234:key/*"}]}`,
			[]check{{req("kms:ListKeys", Resource{Region: "cn-hangzhou", Account: "1234", Kind: "key", ID: "*"}), true},
				{req("kms:ListKeys", Resource{Region: "cn-hangzhou", Account: "9999", Kind: "key", ID: "*"}), false}}},
	}
	for _, c := range cases {
		for _, doc := range []string{c.ram, c.cam} {
			d := mustParse(t, doc)
			for i, ch := range c.checks {
				got := Evaluate(ch.req, Named{Name: "p", Doc: d})
				if got.Allowed != ch.allow {
					t.Errorf("%s (%s), check %d (%s on %s): allowed %v, want %v", c.name, d.Language, i, ch.req.Action, ch.req.Resource.ARN(d.Language), got.Allowed, ch.allow)
				}
			}
		}
	}
}

// The decision names the statement that decided; no statement, no allow.
func TestDecisionNamesTheStatement(t *testing.T) {
	allow := mustParse(t, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`)
	deny := mustParse(t, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Describe*","Resource":"*"},{"Effect":"Deny","Action":"kms:*","Resource":"acs:kms:*:*:key/key-b"}]}`)
	if d := Evaluate(req("kms:Encrypt", keyB), Named{"app", allow}, Named{"guard", deny}); !d.Denied || d.Policy != "guard" || d.Statement != 1 {
		t.Errorf("deny: %+v", d)
	}
	if d := Evaluate(req("kms:Encrypt", keyA), Named{"app", allow}, Named{"guard", deny}); !d.Allowed || d.Policy != "app" || d.Statement != 0 {
		t.Errorf("allow: %+v", d)
	}
	if d := Evaluate(req("kms:Decrypt", keyA), Named{"app", allow}); d.Allowed || d.Denied || d.Statement != -1 {
		t.Errorf("no statement: %+v", d)
	}
	if d := Evaluate(req("kms:Decrypt", keyA)); d.Allowed {
		t.Errorf("no policy at all allowed: %+v", d)
	}
}

// A key policy grants only the principals it names.
func TestKeyPolicyPrincipals(t *testing.T) {
	kp := mustParse(t, `{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":["acs:ram::1234:user/alice"]},"Action":"kms:Decrypt","Resource":"*"}]}`)
	if !Evaluate(req("kms:Decrypt", keyA), Named{"key policy", kp}).Allowed {
		t.Error("named user refused")
	}
	bob := req("kms:Decrypt", keyA)
	bob.Principal = "acs:ram::1234:user/bob"
	if Evaluate(bob, Named{"key policy", kp}).Allowed {
		t.Error("another user allowed")
	}
	// The account's own principal (the default key policy's) names the
	// account, not its users; the wildcard names everyone.
	for _, p := range []string{`"acs:ram::1234:*"`, `"acs:ram::1234:root"`} {
		acct := mustParse(t, `{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":[`+p+`]},"Action":"kms:*","Resource":"*"}]}`)
		if Evaluate(bob, Named{"key policy", acct}).Allowed {
			t.Errorf("principal %s granted a user", p)
		}
	}
	all := mustParse(t, `{"Version":"1","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}`)
	if !Evaluate(bob, Named{"key policy", all}).Allowed {
		t.Error("wildcard principal refused a user")
	}
}

// Bad documents are refused with the field (and line) at fault.
func TestParseErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"Version":"1","Statement":[{"Effect":"Permit","Action":"kms:*","Resource":"*"}]}`: "Statement[0].Effect",
		"{\"Version\":\"1\",\n\"Statement\":[\n{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}": "line 3, Statement[0].Action: missing",
		`{"Version":"2","Statement":[]}`: "Version",
		`{"version":"2.0","statement":[{"effect":"allow","action":"kms:*","resource":"*","condition":{"ip_equal":{"qcs:ip":"nope"}}}]}`: "not an address",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Extra":1}]}`:                                    "Statement[0].Extra: unknown field",
		`{"Version":"1","version":"2.0","Statement":[]}`:                                                                                "no version",
		`[1,2]`: "must be an object",
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`: "Statement[0].Action",
	} {
		_, err := Parse([]byte(doc), MaxSize)
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
	// The line is the statement's own, though an earlier one holds the same text.
	twice := "{\"Version\":\"1\",\"Statement\":[\n{\"Sid\":\"Permit\",\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"},\n{\"Effect\":\"Permit\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"
	if _, err := Parse([]byte(twice), MaxSize); err == nil || !strings.Contains(err.Error(), "line 3, Statement[1].Effect") {
		t.Errorf("second statement's error: %v", err)
	}
	if _, err := Parse([]byte(`{"Version":"1","Statement":[`+strings.Repeat(" ", MaxSize)+`]}`), MaxSize); err == nil {
		t.Error("an oversized policy parsed")
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{{"*", "", true}, {"kms:get*", "kms:getparametersforimport", true}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"*a*b*c*", "xxaxxbxxcxx", true}, {"*a*b*c*", "xxaxxcxxbxx", false}, {"key/*", "alias/x", false}} {
		if Match(c.p, c.s) != c.ok {
			t.Errorf("Match(%q, %q) != %v", c.p, c.s, c.ok)
		}
	}
}

// A user with 10 policies of 10 statements each, wildcards and a condition:
// what one decision costs (the Encrypt-rate target rests on it).
func BenchmarkEvaluate(b *testing.B) {
	var docs []Named
	for p := 0; p < 10; p++ {
		doc := `{"Version":"1","Statement":[`
		for s := 0; s < 10; s++ {
			if s > 0 {
				doc += ","
			}
			doc += `{"Effect":"Allow","Action":["kms:Get*","kms:Describe*"],"Resource":"acs:kms:*:*:key/other-*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}`
		}
		doc += `]}`
		d, err := Parse([]byte(doc), MaxSize)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, Named{Name: "p", Doc: d})
	}
	last, _ := Parse([]byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"acs:kms:*:*:key/key-*","Condition":{"IpAddress":{"acs:SourceIp":"127.0.0.0/8"}}}]}`), MaxSize)
	docs = append(docs, Named{Name: "app", Doc: last})
	r := req("kms:Encrypt", keyA)
	b.ReportAllocs()
	for b.Loop() {
		if !Evaluate(r, docs...).Allowed {
			b.Fatal("refused")
		}
	}
}
