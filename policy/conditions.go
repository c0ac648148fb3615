package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
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
	negated := c.Op == OpStringNotEquals || c.Op == OpStringNotEqualsIgnoreCase || c.Op == OpStringNotLike || c.Op == OpNotIPAddress
	switch {
	case c.Key == KeySourceIP && c.prefixes != nil:
		if !req.SourceIP.IsValid() {
			return negated // a key the request lacks matches no value
		}
		addr := req.SourceIP.Unmap()
		return slices.ContainsFunc(c.prefixes, func(p netip.Prefix) bool { return p.Contains(addr) }) != negated
	case c.Key == KeyCurrentTime && c.times != nil:
		if req.Time.IsZero() {
			return negated
		}
		return slices.ContainsFunc(c.times, func(v time.Time) bool { return c.compareTime(req.Time, v) }) != negated
	}
	actual, present := c.actual(l, req)
	if !present {
		return negated
	}
	for _, a := range actual {
		if c.matchText(a) {
			return !negated
		}
	}
	return negated
}

// actual is what the request holds for a key compared as text: one value,
// or for CAM's resource_tag every tag as KEY&VALUE.
func (c Condition) actual(l Language, req Request) ([]string, bool) {
	switch c.Key {
	case KeySourceIP:
		return []string{req.SourceIP.String()}, req.SourceIP.IsValid()
	case KeyCurrentTime:
		return []string{req.Time.UTC().Format(time.RFC3339Nano)}, !req.Time.IsZero()
	case KeySecureTransport:
		return []string{strconv.FormatBool(req.SecureTransport)}, true
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

// matchText reports whether a value held as text (a tag, TLS) matches
// any of the condition's values.
func (c Condition) matchText(actual string) bool {
	switch c.Op {
	case OpStringEquals, OpStringNotEquals:
		return slices.Contains(c.Values, actual)
	case OpStringEqualsIgnoreCase, OpStringNotEqualsIgnoreCase, OpBool:
		return slices.ContainsFunc(c.Values, func(v string) bool { return strings.EqualFold(actual, v) })
	case OpStringLike, OpStringNotLike:
		return slices.ContainsFunc(c.Values, func(v string) bool { return Match(v, actual) })
	case OpIPAddress, OpNotIPAddress:
		addr, err := netip.ParseAddr(actual)
		return err == nil && slices.ContainsFunc(c.prefixes, func(p netip.Prefix) bool { return p.Contains(addr.Unmap()) })
	}
	at, err := time.Parse(time.RFC3339Nano, actual)
	return err == nil && slices.ContainsFunc(c.times, func(v time.Time) bool { return c.compareTime(at, v) })
}

func (c Condition) compareTime(at, v time.Time) bool {
	switch c.Op {
	case OpDateLessThan:
		return at.Before(v)
	case OpDateLessThanEquals:
		return !at.After(v)
	case OpDateGreaterThan:
		return at.After(v)
	case OpDateGreaterThanEquals:
		return !at.Before(v)
	}
	return false // a text operator on the time
}

// compile reads the values an address or date operator compares, once,
// when the policy is parsed; a value that cannot be one is an error.
func (c *Condition) compile() error {
	for _, v := range c.Values {
		switch c.Op {
		case OpIPAddress, OpNotIPAddress:
			p, err := netip.ParsePrefix(v)
			if err != nil {
				addr, err := netip.ParseAddr(v)
				if err != nil {
					return fmt.Errorf("%q is not an address or CIDR block", v)
				}
				addr = addr.Unmap()
				p = netip.PrefixFrom(addr, addr.BitLen())
			}
			c.prefixes = append(c.prefixes, p)
		case OpDateLessThan, OpDateLessThanEquals, OpDateGreaterThan, OpDateGreaterThanEquals:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("%q is not an ISO 8601 time (2026-01-02T15:04:05Z)", v)
			}
			c.times = append(c.times, t)
		case OpBool:
			if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
				return fmt.Errorf("%q is not true or false", v)
			}
		}
	}
	return nil
}
