package wire

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

// Access is what the access log says of one request: never a secret,
// parameter or body, only who asked what and how it ended.
type Access struct {
	Dialect     string // aliyun or tencent
	RequestID   string
	Action      string
	AccessKeyID string // as the request named it, authenticated or not
	KeyID       string // the key the request names, if any
	SourceIP    string
	Code        string // the error code answered, or "OK"
	Duration    time.Duration
	Fault       bool  // the service's own failure: logged at error
	Err         error // the cause, for the operator (service errors carry no secrets)

	// Authenticated: the caller proved its credential (AccessKeyID is then
	// its own, not a claim).
	Authenticated bool
	// Blocked: refused unread, its address (or address and AccessKeyId)
	// over its failed-authentication budget; summed, not recorded one by one.
	Blocked bool
	// Keys are the keys the request acted on, resolved (WithKeyLog).
	Keys []KeyUse
	// Decision is how the request was authorised (a zero one: never
	// authenticated).
	Decision Decision
	// Refused and Codes make a summary line (Refusals): how many requests
	// it stands for, by code.
	Refused int
	Codes   map[string]int
}

// Decision is how a request was authorised: by whom, for what, and what
// decided.
type Decision struct {
	User     string `json:"user,omitempty"` // "" for the account root
	Checked  bool   `json:"-"`              // some check was made
	Allowed  bool   `json:"allowed"`
	Action   string `json:"action,omitempty"` // the action and resource of the refusal, else of the last check
	Resource string `json:"resource,omitempty"`
	// By names what decided: "policy NAME statement N", "no statement
	// allows", "root".
	By string `json:"by,omitempty"`
}

// UserName is the user as the logs name it: "root" for the account's own
// access keys.
func (d Decision) UserName() string {
	if d.User == "" {
		return "root"
	}
	return d.User
}

// LogAccess writes a request's one access-log line: at info, or at error
// when the service itself failed.
func LogAccess(ctx context.Context, log *slog.Logger, a Access) {
	level := slog.LevelInfo
	if a.Fault {
		level = slog.LevelError
	}
	if a.Refused > 0 {
		log.Log(ctx, level, "requests refused unread", "dialect", a.Dialect, "source_ip", a.SourceIP, "count", a.Refused, "codes", a.Codes)
		return
	}
	attrs := []any{"dialect", a.Dialect, "request_id", a.RequestID, "action", a.Action, "access_key_id", a.AccessKeyID,
		"source_ip", a.SourceIP, "code", a.Code, "duration_ms", float64(a.Duration.Microseconds()) / 1000}
	if a.Authenticated {
		attrs = append(attrs, "user", a.Decision.UserName())
	}
	if d := a.Decision; d.Checked && !d.Allowed {
		attrs = append(attrs, "refused", d.Action+" on "+d.Resource, "decided_by", d.By)
	}
	if len(a.Keys) > 0 {
		attrs = append(attrs, "keys", keyIDs(a.Keys))
	}
	if a.Err != nil {
		msg := a.Err.Error()
		if len(msg) > MaxErrText {
			msg = msg[:MaxErrText] + "…"
		}
		attrs = append(attrs, "err", msg)
	}
	log.Log(ctx, level, "request", attrs...)
}

// keyIDs lists keys as id:version, the access log's short form.
func keyIDs(uses []KeyUse) string {
	var b strings.Builder
	for i, u := range uses {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(u.KeyID)
		if u.Version != "" {
			b.WriteByte(':')
			b.WriteString(u.Version)
		}
	}
	return b.String()
}

// Auditor records requests in the audit log (audit.Log).
type Auditor interface {
	// Ready fails while requests cannot be recorded: they are then refused
	// before they are carried out.
	Ready(ctx context.Context) error
	// Record writes a's line and returns once it is on disk.
	Record(ctx context.Context, a Access) error
}

// ErrAudit is the cause of a request refused for the audit log's sake.
var ErrAudit = errors.New("the audit log cannot be written")

// Recorder is what a dialect does with a request once it has ended and
// before it answers: the audit log (a request it cannot record is answered
// as unavailable instead), then the access log and metrics.
type Recorder struct {
	Audit       Auditor // nil: no audit log
	Logger      *slog.Logger
	OnAccess    func(Access) // nil: none
	Now         func() time.Time
	Unavailable func(cause error) error // the dialect's 503-class error for an audit failure
	// Classify gives an error's code, as answered, and whether it is the
	// service's own fault.
	Classify func(error) (code string, fault bool)
	// Actions and Codes are the dialect's closed sets (its action table,
	// its error table): OnAccess sees anything else as UnknownLabel, so
	// that metric label values never come from what a caller sent.
	Actions func(action string) bool
	Codes   func(code string) bool

	refusals *Refusals
}

// WithRefusals makes requests refused unread (Access.Blocked) recorded in
// sums every interval instead of a line each.
func (r Recorder) WithRefusals(interval time.Duration) Recorder {
	r.refusals = NewRefusals(interval, r.summary)
	return r
}

// summary records one line of refusals: in the audit log (asynchronously:
// nobody waits for it; a failure shows in Ready), the access log and the
// metrics.
func (r Recorder) summary(a Access) {
	ctx := context.Background()
	if r.Audit != nil {
		_ = r.Audit.Record(ctx, a)
	}
	LogAccess(ctx, r.Logger, a)
}

// labels is a with the action and code as metric label values.
func (r Recorder) labels(a Access) Access {
	if r.Actions == nil || !r.Actions(a.Action) {
		a.Action = UnknownLabel
	}
	if a.Code != "OK" && (r.Codes == nil || !r.Codes(a.Code)) {
		a.Code = UnknownLabel
	}
	return a
}

// Ready refuses requests, before they are carried out, while the audit log
// cannot record them.
func (r Recorder) Ready(ctx context.Context) error {
	if r.Audit == nil {
		return nil
	}
	if err := r.Audit.Ready(ctx); err != nil {
		return r.Unavailable(errors.Join(ErrAudit, err))
	}
	return nil
}

// Settle fills in how the request a ended (err, or nil), records it, and
// returns the error to answer with.
func (r Recorder) Settle(ctx context.Context, a Access, start time.Time, err error) error {
	fill := func() {
		a.Code, a.Err, a.Fault = "OK", nil, false
		if err != nil {
			a.Code, a.Fault = r.Classify(err)
			a.Err = err
		}
		a.Duration = r.Now().Sub(start)
	}
	fill()
	a.bound()
	if a.Blocked && r.refusals != nil {
		r.refusals.Add(a.Dialect, a.SourceIP, a.Code)
		if r.OnAccess != nil {
			r.OnAccess(r.labels(a))
		}
		return err
	}
	if r.Audit != nil {
		if aerr := r.Audit.Record(ctx, a); aerr != nil {
			err = r.Unavailable(errors.Join(ErrAudit, aerr))
			fill()
		}
	}
	LogAccess(ctx, r.Logger, a)
	if r.OnAccess != nil {
		r.OnAccess(r.labels(a))
	}
	return err
}
