package wire

// Bounds on what is recorded of a request before it is authenticated: its
// claimed action, AccessKeyId and KeyId are the caller's words, up to the
// size of a body or a header, and they reach the access log, the audit log
// and (as label values) the metrics. Each is cut to its bound and every
// character outside its alphabet becomes '?', so that nothing a stranger
// sends makes a line longer than a few hundred bytes.
const (
	MaxAction      = 64
	MaxAccessKeyID = 128
	MaxKeyID       = 256
	// MaxErrText bounds the cause an access-log line carries (an error may
	// quote a parameter name the caller chose).
	MaxErrText = 512
)

// UnknownLabel is the metric label value of an action outside the dialect's
// action table and of a code outside its error table.
const UnknownLabel = "Unknown"

// Cut returns s within max bytes, with every byte that keep refuses
// replaced by '?'. Every byte is judged alone, so multi-byte characters
// become '?'s and the result is valid ASCII.
func Cut(s string, max int, keep func(byte) bool) string {
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if !keep(b[j]) {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// ActionChar is the alphabet of action names (DescribeKey, ListKeyDetail).
func ActionChar(c byte) bool { return alnum(c) }

// AccessKeyIDChar is the alphabet of AccessKeyIds and SecretIds.
func AccessKeyIDChar(c byte) bool { return alnum(c) || c == '-' || c == '_' || c == '.' }

// KeyIDChar is the alphabet of what names a key: ids, alias/NAME, ARNs.
func KeyIDChar(c byte) bool {
	return alnum(c) || c == '-' || c == '_' || c == '.' || c == '/' || c == ':'
}

// ValidAccessKeyID reports whether id could be an access key's id at all:
// anything else is a malformed credential, refused before it is looked up.
func ValidAccessKeyID(id string) bool {
	return id != "" && Cut(id, MaxAccessKeyID, AccessKeyIDChar) == id
}

// bound cuts the caller's fields of a.
func (a *Access) bound() {
	a.Action = Cut(a.Action, MaxAction, ActionChar)
	a.AccessKeyID = Cut(a.AccessKeyID, MaxAccessKeyID, AccessKeyIDChar)
	a.KeyID = Cut(a.KeyID, MaxKeyID, KeyIDChar)
}
