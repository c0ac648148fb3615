package policy

import (
	"net/netip"
	"strings"
	"time"
)

// ConditionKey is what a condition reads, whichever language named it.
type ConditionKey int

const (
	KeySourceIP        ConditionKey = iota + 1 // acs:SourceIp, qcs:ip
	KeyCurrentTime                             // acs:CurrentTime, qcs:current_time
	KeySecureTransport                         // acs:SecureTransport, qcs:secure_transport
	KeyTag                                     // kms:tag/KEY (value), qcs:resource_tag (KEY&VALUE)
)

// Operator is how a condition compares.
type Operator int

const (
	OpStringEquals Operator = iota + 1
	OpStringNotEquals
	OpStringEqualsIgnoreCase
	OpStringNotEqualsIgnoreCase
	OpStringLike
	OpStringNotLike
	OpIPAddress
	OpNotIPAddress
	OpDateLessThan
	OpDateLessThanEquals
	OpDateGreaterThan
	OpDateGreaterThanEquals
	OpBool
)

// The languages' names for operators and keys, as tables: a name not in
// them makes its statement fail closed.
var (
	ramOperators = map[string]Operator{
		"StringEquals": OpStringEquals, "StringNotEquals": OpStringNotEquals,
		"StringEqualsIgnoreCase": OpStringEqualsIgnoreCase, "StringNotEqualsIgnoreCase": OpStringNotEqualsIgnoreCase,
		"StringLike": OpStringLike, "StringNotLike": OpStringNotLike,
		"IpAddress": OpIPAddress, "NotIpAddress": OpNotIPAddress,
		"DateLessThan": OpDateLessThan, "DateLessThanEquals": OpDateLessThanEquals,
		"DateGreaterThan": OpDateGreaterThan, "DateGreaterThanEquals": OpDateGreaterThanEquals,
		"Bool": OpBool,
	}
	camOperators = map[string]Operator{
		"string_equal": OpStringEquals, "string_not_equal": OpStringNotEquals,
		"string_equal_ignore_case": OpStringEqualsIgnoreCase, "string_not_equal_ignore_case": OpStringNotEqualsIgnoreCase,
		"string_like": OpStringLike, "string_not_like": OpStringNotLike,
		"ip_equal": OpIPAddress, "ip_not_equal": OpNotIPAddress,
		"date_less_than": OpDateLessThan, "date_less_than_equal": OpDateLessThanEquals,
		"date_greater_than": OpDateGreaterThan, "date_greater_than_equal": OpDateGreaterThanEquals,
		"bool_equal": OpBool,
		// A key's tags are a set: any of them may match.
		"for_any_value:string_equal": OpStringEquals, "for_any_value:string_like": OpStringLike,
	}
	ramKeys = map[string]ConditionKey{"acs:sourceip": KeySourceIP, "acs:currenttime": KeyCurrentTime, "acs:securetransport": KeySecureTransport}
	camKeys = map[string]ConditionKey{"qcs:ip": KeySourceIP, "qcs:current_time": KeyCurrentTime, "qcs:secure_transport": KeySecureTransport, "qcs:resource_tag": KeyTag}
)

// conditionKey names a key of language l; RAM's tag keys are kms:tag/KEY.
func conditionKey(l Language, name string) (ConditionKey, string, bool) {
	lower := strings.ToLower(name)
	if l == RAM {
		if tag, ok := strings.CutPrefix(lower, "kms:tag/"); ok && tag != "" {
			return KeyTag, name[len("kms:tag/"):], true
		}
		k, ok := ramKeys[lower]
		return k, "", ok
	}
	k, ok := camKeys[lower]
	return k, "", ok
}

// holds reports whether the condition holds for req: for a positive
// operator some value matches; for a negated one none does.
func (c Condition) holds(l Language, req Request) bool {
	actual, present := c.actual(l, req)
	negated := c.Op == OpStringNotEquals || c.Op == OpStringNotEqualsIgnoreCase || c.Op == OpStringNotLike || c.Op == OpNotIPAddress
	if !present {
		return negated // a key the request lacks matches no value
	}
	for _, a := range actual {
		for _, v := range c.Values {
			if c.compare(a, v) {
				return !negated
			}
		}
	}
	return negated
}

// actual is what the request holds for the condition's key: one value, or
// for CAM's resource_tag every tag as KEY&VALUE.
func (c Condition) actual(l Language, req Request) ([]string, bool) {
	switch c.Key {
	case KeySourceIP:
		return []string{req.SourceIP.String()}, req.SourceIP.IsValid()
	case KeyCurrentTime:
		return []string{req.Time.UTC().Format(time.RFC3339Nano)}, !req.Time.IsZero()
	case KeySecureTransport:
		if req.SecureTransport {
			return []string{"true"}, true
		}
		return []string{"false"}, true
	case KeyTag:
		if l == RAM {
			v, ok := req.Tags[c.Tag]
			return []string{v}, ok
		}
		var all []string
		for k, v := range req.Tags {
			all = append(all, k+"&"+v)
		}
		return all, len(all) > 0
	}
	return nil, false
}

func (c Condition) compare(actual, value string) bool {
	switch c.Op {
	case OpStringEquals, OpStringNotEquals:
		return actual == value
	case OpStringEqualsIgnoreCase, OpStringNotEqualsIgnoreCase:
		return strings.EqualFold(actual, value)
	case OpStringLike, OpStringNotLike:
		return Match(value, actual)
	case OpIPAddress, OpNotIPAddress:
		addr, err := netip.ParseAddr(actual)
		if err != nil {
			return false
		}
		if p, err := netip.ParsePrefix(value); err == nil {
			return p.Contains(addr.Unmap())
		}
		v, err := netip.ParseAddr(value)
		return err == nil && v.Unmap() == addr.Unmap()
	case OpBool:
		return strings.EqualFold(actual, value)
	}
	// Dates: RFC 3339 both sides.
	a, err1 := time.Parse(time.RFC3339Nano, actual)
	v, err2 := time.Parse(time.RFC3339Nano, value)
	if err1 != nil || err2 != nil {
		return false
	}
	switch c.Op {
	case OpDateLessThan:
		return a.Before(v)
	case OpDateLessThanEquals:
		return !a.After(v)
	case OpDateGreaterThan:
		return a.After(v)
	case OpDateGreaterThanEquals:
		return !a.Before(v)
	}
	return false
}
