// Package audit writes Keyport's audit log: one JSON object per line for
// every API request and every admin action, saying who did what to which
// key, from where, and how it ended — never a secret, PIN, plaintext, key
// material, ciphertext or import token. A line is on disk (fdatasync)
// before the request it records is answered; lines of concurrent requests
// share one write and one sync (group commit). When the file cannot be
// written, requests are refused rather than left unrecorded.
//
// The log is tamper-evident: every line carries the hash of the line
// before it (prev), across rotations, and checkpoint lines MACed in the
// HSM under a key of the deployment authenticate the chain up to a line
// (chain.go). Verify checks a set of files (verify.go).
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/keyport-kms/keyport/service/wire"
)

// Record is one line.
type Record struct {
	Time        time.Time `json:"time"`
	RequestID   string    `json:"request_id,omitempty"`
	Dialect     string    `json:"dialect"` // aliyun, tencent, or admin
	Action      string    `json:"action"`
	AccessKeyID string    `json:"access_key_id,omitempty"` // the caller's; for access-key actions, the one acted on
	// User is the access key's user ("root" for the account's own), and
	// Authorization what its policies decided and which statement decided it.
	User          string         `json:"user,omitempty"`
	Authorization *wire.Decision `json:"authorization,omitempty"`
	KeyID         string         `json:"key_id,omitempty"` // the key acted on (the first, resolved), else the one the request names
	// Keys are every key the request acted on, resolved: id, version, and
	// the alias it was named by.
	Keys       []wire.KeyUse `json:"keys,omitempty"`
	SourceIP   string        `json:"source_ip,omitempty"`
	Result     string        `json:"result"` // the error code answered, or OK
	DurationMs float64       `json:"duration_ms"`
	// Count and Codes, on a line summing requests refused unread: how
	// many, by code.
	Count int            `json:"count,omitempty"`
	Codes map[string]int `json:"codes,omitempty"`
	// Checkpoint is set on a checkpoint line alone.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	// Prev is the hex SHA-256 of the line before this one, "" on the first
	// line of a chain.
	Prev string `json:"prev"`
}

// ErrUnwritable wraps every failure to record.
var ErrUnwritable = errors.New("audit log cannot be written")

// Log is an open audit log file.
type Log struct {
	path string

	io sync.Mutex // held while a batch is written and synced, and while the file is swapped

	mu       sync.Mutex
	f        *os.File
	next     *batch // lines waiting for the next write
	flushing bool
	failed   error // the last write's failure, until a write succeeds
	torn     bool  // a failed write left part of a line: the next starts a new one
	chain    chain // the hash chain and its checkpoints; under mu
	// unchained writes lines as they were before the chain, for
	// BenchmarkChainCost's baseline alone.
	unchained bool
	onFailure func() // told when a write fails after one succeeded
}

// OnFailure has fn called (outside the log's locks) when a write fails
// after the last one succeeded: the server's readiness then looks again at
// once rather than at its next scheduled probe.
func (l *Log) OnFailure(fn func()) {
	l.mu.Lock()
	l.onFailure = fn
	l.mu.Unlock()
}

type batch struct {
	buf  []byte
	done chan struct{}
	err  error
}

// Open opens (creating, mode 0600) the file at path for appending. The
// chain goes on from the file's last whole line.
func Open(path string) (*Log, error) {
	last, torn, err := lastLine(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnwritable, err)
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := &Log{path: path, f: f, torn: torn}
	if last != nil {
		l.chain.last = lineHash(last)
	}
	return l, nil
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnwritable, err)
	}
	return f, nil
}

// Reopen closes the file and opens the path again: after logrotate moved
// it (SIGHUP). A failure keeps the old file.
func (l *Log) Reopen() error {
	f, err := openFile(l.path)
	if err != nil {
		return err
	}
	l.io.Lock()
	defer l.io.Unlock()
	l.mu.Lock()
	old := l.f
	l.f, l.failed, l.torn = f, nil, false
	l.mu.Unlock()
	l.chain.kickCheckpoint() // the new file's chain is authenticated from its start
	return old.Close()
}

// Write appends r and returns once it is on disk.
func (l *Log) Write(ctx context.Context, r Record) error {
	r.Prev = "" // filled in when the batch is written, from the line written before it
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnwritable, err)
	}
	l.mu.Lock()
	l.chain.appended()
	if l.next == nil {
		l.next = &batch{done: make(chan struct{})}
	}
	b := l.next
	b.buf = append(append(b.buf, line...), '\n')
	if !l.flushing {
		l.flushing = true
		go l.flush()
	}
	l.mu.Unlock()
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnwritable, ctx.Err())
	}
}

// flush writes batches until none is waiting: the lines that arrive while
// one batch is written and synced go together in the next.
func (l *Log) flush() {
	for {
		l.io.Lock()
		l.mu.Lock()
		b, f := l.next, l.f
		l.next = nil
		if b == nil {
			l.flushing = false
			l.mu.Unlock()
			l.io.Unlock()
			return
		}
		torn, prev := l.torn, l.chain.last
		l.mu.Unlock()
		buf, last := b.buf, prev
		if !l.unchained {
			buf, last = linked(b.buf, prev)
		}
		if torn {
			buf = append([]byte{'\n'}, buf...)
		}
		n, err := f.Write(buf)
		if err == nil {
			err = syscall.Fdatasync(int(f.Fd()))
		}
		l.io.Unlock()
		if err != nil {
			err = fmt.Errorf("%w: %s: %w", ErrUnwritable, l.path, err)
		}
		l.mu.Lock()
		newly, tell := err != nil && l.failed == nil, l.onFailure
		l.failed = err
		if n > 0 {
			l.torn = n < len(buf) // a whole write ends with a newline
		}
		if err == nil {
			l.chain.last = last // the chain goes on from what is on disk
		}
		l.mu.Unlock()
		if newly && tell != nil {
			tell()
		}
		b.err = err
		close(b.done)
	}
}

// Ready says whether requests may be carried out: once a write has failed,
// none is until a line can be written again (tried here, with a line that
// records the recovery), so a full disk refuses requests before they
// change anything rather than after.
func (l *Log) Ready(ctx context.Context) error {
	l.mu.Lock()
	failed := l.failed
	l.mu.Unlock()
	if failed == nil {
		return nil
	}
	return l.Write(ctx, Record{Time: time.Now().UTC(), Dialect: "admin", Action: "AuditLogWritableAgain", Result: "OK"})
}

// Close writes the closing checkpoint, if checkpoints run, and closes the
// file.
func (l *Log) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.stopCheckpoints(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(err, l.f.Close())
}

// Record writes an API request's line (wire.Auditor).
func (l *Log) Record(ctx context.Context, a wire.Access) error {
	keyID := a.KeyID
	if len(a.Keys) > 0 {
		keyID = a.Keys[0].KeyID
	}
	r := Record{Time: time.Now().UTC(), RequestID: a.RequestID, Dialect: a.Dialect, Action: a.Action,
		AccessKeyID: a.AccessKeyID, KeyID: keyID, Keys: a.Keys, SourceIP: a.SourceIP, Result: a.Code, DurationMs: millis(a.Duration),
		Count: a.Refused, Codes: a.Codes}
	if a.Authenticated {
		r.User = a.Decision.UserName()
		if a.Decision.Checked {
			d := a.Decision
			d.User = ""
			r.Authorization = &d
		}
	}
	return l.Write(ctx, r)
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Keep keeps an admin record somewhere besides the file: with a PostgreSQL
// store, in the database's admin log, which every replica's operators see.
type Keep func(ctx context.Context, r Record) error

// Admin runs an admin action (an access-key change, a purge, a store
// migration) in a command of its own and records it in the log at path, if
// given: the log is opened first, so that an unwritable log refuses the
// action. keep, if not nil, receives the record too.
func Admin(ctx context.Context, path, action string, run func() (target string, err error), keep Keep) error {
	source := fmt.Sprintf("local:uid=%d", os.Getuid())
	if path == "" {
		start := time.Now()
		target, err := run()
		return errors.Join(err, kept(ctx, keep, adminRecord(action, source, target, err, start), err))
	}
	l, err := Open(path)
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Action(ctx, action, source, run, keep)
}

func adminRecord(action, source, target string, err error, start time.Time) Record {
	result := "OK"
	if err != nil {
		result = "Failed"
	}
	return Record{Time: time.Now().UTC(), Dialect: "admin", Action: action, AccessKeyID: target,
		SourceIP: source, Result: result, DurationMs: millis(time.Since(start))}
}

// kept hands r to keep. A failed action whose record cannot be kept either
// (its store was what failed) reports the action's error alone.
func kept(ctx context.Context, keep Keep, r Record, actionErr error) error {
	if keep == nil {
		return nil
	}
	if err := keep(ctx, r); err != nil && actionErr == nil {
		return fmt.Errorf("the action is done but its record is not in the store's admin log: %w", err)
	}
	return nil
}

// Action runs an admin action and records it: not at all while the log
// cannot be written (Ready), and its line is on disk before the caller
// reports success. run returns what it acted on (an access key id, a
// deployment), which the line names.
func (l *Log) Action(ctx context.Context, action, source string, run func() (target string, err error), keep Keep) error {
	if err := l.Ready(ctx); err != nil {
		return err
	}
	start := time.Now()
	target, err := run()
	rec := adminRecord(action, source, target, err, start)
	if werr := l.Write(ctx, rec); werr != nil {
		return errors.Join(err, werr)
	}
	return errors.Join(err, kept(ctx, keep, rec, err))
}
