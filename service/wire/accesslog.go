package wire

import (
	"context"
	"errors"
	"log/slog"
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
}

// LogAccess writes a request's one access-log line: at info, or at error
// when the service itself failed.
func LogAccess(ctx context.Context, log *slog.Logger, a Access) {
	level := slog.LevelInfo
	if a.Fault {
		level = slog.LevelError
	}
	attrs := []any{"dialect", a.Dialect, "request_id", a.RequestID, "action", a.Action, "access_key_id", a.AccessKeyID,
		"code", a.Code, "duration_ms", float64(a.Duration.Microseconds()) / 1000}
	if a.Err != nil {
		attrs = append(attrs, "err", a.Err)
	}
	log.Log(ctx, level, "request", attrs...)
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
	if r.Audit != nil {
		if aerr := r.Audit.Record(ctx, a); aerr != nil {
			err = r.Unavailable(errors.Join(ErrAudit, aerr))
			fill()
		}
	}
	LogAccess(ctx, r.Logger, a)
	if r.OnAccess != nil {
		r.OnAccess(a)
	}
	return err
}
