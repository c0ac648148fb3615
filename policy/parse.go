package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Error is a policy that does not parse: where, and what is wrong. It
// names the line and field so that an operator can fix the document.
type Error struct {
	Line  int    // 1-based; 0 when the whole document is at fault
	Field string // "Statement[2].Effect"
	Msg   string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Field != "":
		return fmt.Sprintf("policy: line %d, %s: %s", e.Line, e.Field, e.Msg)
	case e.Field != "":
		return fmt.Sprintf("policy: %s: %s", e.Field, e.Msg)
	}
	return "policy: " + e.Msg
}

// names are one language's spelling of the document's fields.
type names struct {
	version, versionValue, statement, effect, allow, deny, action, resource, principal, condition, sid string
}

var (
	ramNames = names{"Version", "1", "Statement", "Effect", "Allow", "Deny", "Action", "Resource", "Principal", "Condition", "Sid"}
	camNames = names{"version", "2.0", "statement", "effect", "allow", "deny", "action", "resource", "principal", "condition", "sid"}
)

// Parse reads a policy in either language, told apart by its version
// field's spelling ("Version" is RAM, "version" CAM). max bounds its size
// (MaxSize for identity policies, KeyPolicyMaxSize for key policies).
func Parse(b []byte, max int) (*Document, error) {
	if len(b) > max {
		return nil, &Error{Msg: fmt.Sprintf("%d bytes, more than the %d a policy may have", len(b), max)}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, jsonError(b, err)
	}
	_, ram := top["Version"]
	_, cam := top["version"]
	switch {
	case ram && !cam:
		return parse(b, top, RAM, ramNames)
	case cam && !ram:
		return parse(b, top, CAM, camNames)
	}
	return nil, &Error{Field: "Version", Msg: `no version: a RAM policy has "Version":"1", a CAM policy "version":"2.0"`}
}

func parse(b []byte, top map[string]json.RawMessage, l Language, n names) (*Document, error) {
	whole := span{doc: b, start: 0, end: len(b)}
	for k := range top {
		if k != n.version && k != n.statement {
			return nil, whole.err(k, k, "unknown field")
		}
	}
	var version string
	if err := json.Unmarshal(top[n.version], &version); err != nil || version != n.versionValue {
		return nil, whole.err(n.version, n.version, fmt.Sprintf("must be %q", n.versionValue))
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(top[n.statement], &raws); err != nil || len(raws) == 0 {
		return nil, whole.err(n.statement, n.statement, "must be a list of at least one statement")
	}
	if len(raws) > MaxStatements {
		return nil, whole.err(n.statement, n.statement, fmt.Sprintf("%d statements, more than %d", len(raws), MaxStatements))
	}
	doc := &Document{Language: l}
	// Each statement's place in the document, found in order after the
	// one before, so that an error names the line of the statement at fault.
	from := max(bytes.Index(b, top[n.statement]), 0)
	for i, raw := range raws {
		at := from + max(bytes.Index(b[from:], raw), 0)
		from = min(at+len(raw), len(b))
		st, err := parseStatement(span{doc: b, start: at, end: from}, raw, l, n, fmt.Sprintf("%s[%d]", n.statement, i))
		if err != nil {
			return nil, err
		}
		doc.Statements = append(doc.Statements, st)
	}
	return doc, nil
}

func parseStatement(sp span, raw []byte, l Language, n names, at string) (Statement, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return Statement{}, sp.err("", at, "must be an object")
	}
	var st Statement
	for k, v := range f {
		field := at + "." + k
		var err error
		switch k {
		case n.sid:
			if json.Unmarshal(v, &st.Sid) != nil {
				err = errors.New("must be a string")
			}
		case n.effect:
			var e string
			_ = json.Unmarshal(v, &e)
			switch e {
			case n.allow:
			case n.deny:
				st.Deny = true
			default:
				err = fmt.Errorf("must be %q or %q", n.allow, n.deny)
			}
		case n.action:
			if st.Actions, err = stringOrList(v); err == nil {
				for i, a := range st.Actions {
					st.Actions[i] = strings.ToLower(strings.TrimPrefix(a, "name/"))
				}
			}
		case n.resource:
			st.Resources, err = stringOrList(v)
		case n.principal:
			st.Principals, err = principals(l, v)
		case n.condition:
			st.Conditions, st.unknown, err = conditions(l, v)
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return Statement{}, sp.err(k, field, err.Error())
		}
	}
	if _, ok := f[n.effect]; !ok {
		return Statement{}, sp.err("", at+"."+n.effect, "missing")
	}
	if len(st.Actions) == 0 {
		return Statement{}, sp.err("", at+"."+n.action, "missing")
	}
	if len(st.Resources) == 0 {
		return Statement{}, sp.err("", at+"."+n.resource, "missing")
	}
	return st, nil
}

// stringOrList reads "x" or ["x", …]: a list of non-empty strings.
func stringOrList(v json.RawMessage) ([]string, error) {
	var one string
	if json.Unmarshal(v, &one) == nil {
		v = json.RawMessage(`[` + string(v) + `]`)
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil || len(list) == 0 {
		return nil, errors.New("must be a string or a list of strings")
	}
	for _, s := range list {
		if s == "" {
			return nil, errors.New("holds an empty string")
		}
	}
	return list, nil
}

// principals reads a key policy's Principal: {"RAM": […]} or "*" in RAM;
// {"qcs": […]} or "*" in CAM.
func principals(l Language, v json.RawMessage) ([]string, error) {
	var star string
	if json.Unmarshal(v, &star) == nil {
		if star != "*" {
			return nil, errors.New(`must be "*" or an object of principal lists`)
		}
		return []string{"*"}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || len(m) == 0 {
		return nil, errors.New(`must be "*" or an object of principal lists`)
	}
	var out []string
	for k, list := range m {
		if (l == RAM && k != "RAM") || (l == CAM && k != "qcs") {
			return nil, fmt.Errorf("unknown principal type %q", k)
		}
		ps, err := stringOrList(list)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// conditions reads {"Operator": {"key": value or [values]}}. An operator or
// key it does not know is no error (policies written for the cloud carry
// over) but marks the statement unknown, which then fails closed. A value
// that cannot be what its operator compares (a bad address or date) is an
// error.
func conditions(l Language, v json.RawMessage) (out []Condition, unknown bool, err error) {
	var ops map[string]map[string]json.RawMessage
	if err := json.Unmarshal(v, &ops); err != nil {
		return nil, false, errors.New("must be an object of operators, each an object of keys")
	}
	table := ramOperators
	if l == CAM {
		table = camOperators
	}
	for opName, keys := range ops {
		op, ok := table[opName]
		if !ok {
			unknown = true
			continue
		}
		for keyName, raw := range keys {
			values, err := scalarOrList(raw)
			if err != nil {
				return nil, false, fmt.Errorf("%s %s: %w", opName, keyName, err)
			}
			key, tag, ok := conditionKey(l, keyName)
			if !ok {
				unknown = true
				continue
			}
			c := Condition{Op: op, Key: key, Tag: tag, Values: values}
			if err := c.compile(); err != nil {
				return nil, false, fmt.Errorf("%s %s: %w", opName, keyName, err)
			}
			out = append(out, c)
		}
	}
	return out, unknown, nil
}

// scalarOrList reads a condition's values: strings, booleans or numbers,
// alone or in a list, kept as their text.
func scalarOrList(raw json.RawMessage) ([]string, error) {
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil {
		var one any
		if err := json.Unmarshal(raw, &one); err != nil {
			return nil, errors.New("must be a value or a list of values")
		}
		list = []any{one}
	}
	if len(list) == 0 {
		return nil, errors.New("holds no value")
	}
	out := make([]string, len(list))
	for i, v := range list {
		switch v := v.(type) {
		case string:
			out[i] = v
		case bool, float64:
			out[i] = fmt.Sprint(v)
		default:
			return nil, errors.New("values must be strings, booleans or numbers")
		}
	}
	return out, nil
}

// span is a part of the document being parsed (a statement, or all of it),
// so that an error can name the line it is on.
type span struct {
	doc        []byte
	start, end int
}

// err is an error about field, on the line of key within the span (the
// span's first line when key is "" or not found).
func (sp span) err(key, field, msg string) error {
	at := sp.start
	if key != "" {
		if i := bytes.Index(sp.doc[sp.start:sp.end], []byte(`"`+key+`"`)); i >= 0 {
			at += i
		}
	}
	return &Error{Line: lineAt(sp.doc, at), Field: field, Msg: msg}
}

// lineAt is the 1-based line of offset at in doc.
func lineAt(doc []byte, at int) int { return bytes.Count(doc[:min(at, len(doc))], []byte("\n")) + 1 }

// jsonError is a syntax or type error with its line.
func jsonError(doc []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &Error{Line: lineAt(doc, int(syn.Offset)), Msg: syn.Error()}
	case errors.As(err, &typ):
		return &Error{Line: lineAt(doc, int(typ.Offset)), Msg: "must be an object"}
	}
	return &Error{Msg: err.Error()}
}
