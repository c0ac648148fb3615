// Package policy reads access policies in either cloud's language, Alibaba
// Cloud RAM ({"Version":"1","Statement":[…]}) and Tencent Cloud CAM
// ({"version":"2.0","statement":[…]}), into one model, and decides requests
// with one engine, so that a request is decided the same way whichever
// dialect it came through. Explicit deny wins; no allow means deny; a
// statement with a condition key or operator it does not know never matches
// as an allow and always matches as a deny (fail closed). It is pure: it
// knows no store, token or server.
package policy

import (
	"net/netip"
	"strings"
	"time"
)

// Language is the policy language a document is written in.
type Language string

const (
	RAM Language = "RAM" // Alibaba Cloud
	CAM Language = "CAM" // Tencent Cloud
)

// MaxSize is the most bytes a policy document may have: RAM's limit for a
// custom policy (6,144 characters); key policies may be larger (KeyPolicyMaxSize).
const MaxSize = 6144

// KeyPolicyMaxSize is the most bytes a key policy may have (SetKeyPolicy).
const KeyPolicyMaxSize = 32768

// MaxStatements bounds a document's statements, so that a decision's cost
// is bounded whatever a policy's author wrote.
const MaxStatements = 100

// Document is one parsed policy.
type Document struct {
	Language   Language
	Statements []Statement
}

// Statement is one rule: its effect on the actions and resources it names,
// for the principals it names (key policies only), when its conditions hold.
type Statement struct {
	Sid        string
	Deny       bool
	Actions    []string // lower-case patterns, "name/" dropped: "kms:encrypt", "kms:get*"
	Resources  []string // patterns in the document's language
	Principals []string // key policies: "acs:ram::ACCOUNT:user/NAME", "*"; nil in identity policies
	Conditions []Condition
	// unknown is set when a condition uses a key or operator this engine
	// does not know: the statement then fails closed.
	unknown bool
}

// Condition is one operator on one key: it holds when the request's value
// for Key matches any of Values (or, negated, matches none).
type Condition struct {
	Op     Operator
	Key    ConditionKey
	Tag    string // the tag's key, for KeyTag in RAM's kms:tag/KEY
	Values []string
	// What address and date operators compare, read from Values once.
	prefixes []netip.Prefix
	times    []time.Time
}

// Resource is what a request acts on, named in both languages at once.
type Resource struct {
	Region     string
	Account    string // the account (RAM) or owner uin (CAM)
	CreatorUin string // CAM's creatorUin segment; the account when empty
	Kind       string // "key" or "alias"
	ID         string // the key id or alias name ("alias/…" without the prefix); "" for the container (CreateKey, ListKeys)
}

// ARN is the resource as a policy of language l names it.
func (r Resource) ARN(l Language) string {
	if l == CAM {
		creator := r.CreatorUin
		if creator == "" {
			creator = r.Account
		}
		if r.ID == "" {
			return "qcs::kms:" + r.Region + ":uin/" + r.Account + ":" + r.Kind + "/*" // CAM authorises containers on key/*
		}
		if r.Kind == "key" && r.ID != "*" {
			return "qcs::kms:" + r.Region + ":uin/" + r.Account + ":key/creatorUin/" + creator + "/" + r.ID
		}
		return "qcs::kms:" + r.Region + ":uin/" + r.Account + ":" + r.Kind + "/" + r.ID
	}
	if r.ID == "" {
		return "acs:kms:" + r.Region + ":" + r.Account + ":" + r.Kind // RAM's key and alias containers
	}
	return "acs:kms:" + r.Region + ":" + r.Account + ":" + r.Kind + "/" + r.ID
}

// Request is one decision to make: Action on Resource by Principal.
type Request struct {
	Action string // as RAM names it, with its service: "kms:Encrypt", "kms:ReEncryptFrom"
	// CAMAction is the action as CAM names it ("kms:DeleteImportedKeyMaterial"),
	// which CAM documents are matched against; Action when empty.
	CAMAction string
	Resource  Resource
	Principal string // "acs:ram::ACCOUNT:user/NAME" (matched by key policies)
	// What conditions read.
	SourceIP        netip.Addr
	Time            time.Time
	SecureTransport bool
	Tags            map[string]string // the key's tags
}

// Decision is what the engine decided and why.
type Decision struct {
	Allowed bool
	// Denied is true when a statement denied explicitly (not merely no allow).
	Denied bool
	// Policy and Statement name the deciding statement: the deny, or the
	// first allow; Statement is -1 when no statement allows.
	Policy    string
	Statement int
}

// Named is a document with the name it is known by (a user's policy name,
// or "key policy").
type Named struct {
	Name string
	Doc  *Document
}

// Evaluate decides req against every document: any matching deny denies,
// else any matching allow allows, else it is denied.
func Evaluate(req Request, docs ...Named) Decision {
	out := Decision{Statement: -1}
	// What every statement compares, computed once per decision.
	r := prepared{Request: req, action: [2]string{strings.ToLower(req.Action), strings.ToLower(req.CAMAction)}}
	if r.action[1] == "" {
		r.action[1] = r.action[0]
	}
	for _, d := range docs {
		if d.Doc == nil {
			continue
		}
		for i := range d.Doc.Statements {
			st := &d.Doc.Statements[i]
			if !st.matches(d.Doc.Language, &r) {
				continue
			}
			if st.Deny {
				return Decision{Denied: true, Policy: d.Name, Statement: i}
			}
			if !out.Allowed {
				out = Decision{Allowed: true, Policy: d.Name, Statement: i}
			}
		}
	}
	return out
}

// prepared is a request with what statements compare computed once.
type prepared struct {
	Request
	action [2]string // by language (RAM, CAM), lower case
	arn    [2]string // by language, made when first needed
}

func index(l Language) int {
	if l == CAM {
		return 1
	}
	return 0
}

func (r *prepared) arnFor(l Language) string {
	i := index(l)
	if r.arn[i] == "" {
		r.arn[i] = r.Resource.ARN(l)
	}
	return r.arn[i]
}

// matches reports whether st applies to req. A statement whose conditions
// the engine cannot read applies when it denies and never when it allows.
func (st *Statement) matches(l Language, req *prepared) bool {
	if !anyMatch(st.Actions, req.action[index(l)]) {
		return false
	}
	if !anyMatch(st.Resources, req.arnFor(l)) {
		return false
	}
	if st.Principals != nil && !namesPrincipal(st.Principals, req.Principal) {
		return false
	}
	if st.unknown {
		return st.Deny
	}
	for _, c := range st.Conditions {
		if !c.holds(l, req.Request) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if Match(p, s) {
			return true
		}
	}
	return false
}

// namesPrincipal reports whether a key policy's principals name p. The
// account's own principal (acs:ram::ACCOUNT:*, …:root) names the account,
// not its users, as AWS reads an account principal in a key policy: it
// leaves the users to their own policies. So the default key policy grants
// no user anything; a user is granted by name or by the wildcard "*".
func namesPrincipal(patterns []string, p string) bool {
	for _, pat := range patterns {
		if pat == "*" || (!accountPrincipal(pat) && Match(pat, p)) {
			return true
		}
	}
	return false
}

// accountPrincipal reports whether pat names an account as a whole:
// acs:ram::ACCOUNT:* or acs:ram::ACCOUNT:root (CAM: qcs::cam::uin/ACCOUNT:root).
func accountPrincipal(pat string) bool {
	for _, prefix := range []string{"acs:ram::", "qcs::cam::uin/"} {
		if rest, ok := strings.CutPrefix(pat, prefix); ok {
			i := strings.IndexByte(rest, ':')
			return i >= 0 && (rest[i+1:] == "*" || rest[i+1:] == "root")
		}
	}
	return false
}

// Match reports whether s matches pattern, where * matches any run of
// characters (none included) and ? any one. It runs in time linear in
// len(pattern)·len(s) at worst, whatever the pattern.
func Match(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
