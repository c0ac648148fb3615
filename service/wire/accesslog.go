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

// AuditReady is a's Ready, if there is an auditor; the dialects answer
// its error as unavailable.
func AuditReady(ctx context.Context, a Auditor) error {
	if a == nil {
		return nil
	}
	if err := a.Ready(ctx); err != nil {
		return errors.Join(ErrAudit, err)
	}
	return nil
}

// Audit records acc, if there is an auditor.
func Audit(ctx context.Context, a Auditor, acc Access) error {
	if a == nil {
		return nil
	}
	if err := a.Record(ctx, acc); err != nil {
		return errors.Join(ErrAudit, err)
	}
	return nil
}
