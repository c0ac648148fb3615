package wire

import (
	"context"
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
