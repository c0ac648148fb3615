package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"
)

// The hash chain. Each line's prev is the SHA-256 of the line before it
// (its bytes, without the newline), so a line changed, inserted, removed
// or moved breaks the chain at the next line. A chain anyone can recompute
// proves nothing alone: checkpoint lines carry an HMAC, computed in the HSM
// under the deployment's audit key, of the hash of the line they cover;
// rewriting the chain before a checkpoint would need that key. A chain
// starts (prev "") in a new file; rotation keeps it (the file that follows
// a SIGHUP continues from the last line written).

// Checkpoint authenticates the chain up to the line whose hash is Covers.
type Checkpoint struct {
	Covers     string `json:"covers"`     // hex SHA-256 of the line it authenticates, and every line before it
	Lines      int64  `json:"lines"`      // lines this process wrote before it
	Deployment string `json:"deployment"` // whose key
	Key        string `json:"key"`        // the MAC key's id on the token
	MAC        string `json:"mac"`        // hex HMAC-SHA256 of checkpointInput(Deployment, Covers)
	Closing    bool   `json:"closing,omitempty"`
}

// checkpointInput is what a checkpoint's MAC covers.
func checkpointInput(deployment, covers string) []byte {
	return []byte("keyport/audit/checkpoint/v1\x00" + deployment + "\x00" + covers)
}

// MACer computes HMAC-SHA256 in the HSM under the deployment's audit key.
type MACer struct {
	Deployment string
	Key        string
	MAC        func(ctx context.Context, data []byte) ([]byte, error)
}

// chain is a log's running hash and checkpoint schedule; Log.mu guards it.
type chain struct {
	last   string // hex hash of the last line written; "" before the first
	lines  int64
	since  int // lines since the last checkpoint
	every  int // a checkpoint after this many lines
	kick   chan struct{}
	macer  *MACer
	stop   chan struct{}
	closed chan struct{}
}

func lineHash(line []byte) string {
	h := sha256.Sum256(line)
	return hex.EncodeToString(h[:])
}

// appended notes a line just put in a batch.
func (c *chain) appended() {
	c.lines++
	c.since++
	if c.every > 0 && c.since >= c.every {
		c.kickCheckpoint()
	}
}

func (c *chain) kickCheckpoint() {
	if c.kick == nil {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Checkpoints starts writing checkpoint lines MACed by m: one now, one after
// every `every` lines, and at least every `interval` while lines are
// written. Close writes the last.
func (l *Log) Checkpoints(m MACer, every int, interval time.Duration) error {
	kick, stop, closed := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	l.mu.Lock()
	l.chain.macer, l.chain.every = &m, every
	l.chain.kick, l.chain.stop, l.chain.closed = kick, stop, closed
	l.mu.Unlock()
	if err := l.Checkpoint(context.Background(), false); err != nil {
		return err
	}
	go func() {
		defer close(closed)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-kick:
			case <-tick.C:
				l.mu.Lock()
				quiet := l.chain.since == 0
				l.mu.Unlock()
				if quiet {
					continue
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = l.Checkpoint(ctx, false) // a failure shows in Ready, as any unwritten line
			cancel()
		}
	}()
	return nil
}

// Checkpoint writes a checkpoint line covering the last line written.
func (l *Log) Checkpoint(ctx context.Context, closing bool) error {
	l.mu.Lock()
	m, covers, lines := l.chain.macer, l.chain.last, l.chain.lines
	l.chain.since = 0
	l.mu.Unlock()
	if m == nil {
		return nil
	}
	mac, err := m.MAC(ctx, checkpointInput(m.Deployment, covers))
	if err != nil {
		return fmt.Errorf("%w: checkpoint MAC: %w", ErrUnwritable, err)
	}
	return l.Write(ctx, Record{Time: time.Now().UTC(), Dialect: "admin", Action: "AuditCheckpoint", Result: "OK",
		Checkpoint: &Checkpoint{Covers: covers, Lines: lines, Deployment: m.Deployment, Key: m.Key, MAC: hex.EncodeToString(mac), Closing: closing}})
}

// stopCheckpoints ends the schedule and writes the closing checkpoint.
func (l *Log) stopCheckpoints(ctx context.Context) error {
	l.mu.Lock()
	stop, closed := l.chain.stop, l.chain.closed
	l.chain.stop = nil
	l.mu.Unlock()
	if stop == nil {
		return nil
	}
	close(stop)
	<-closed
	return l.Checkpoint(ctx, true)
}

// emptyPrev ends every marshalled Record: prev is its last field.
var emptyPrev = []byte(`"prev":""}`)

// linked fills in each line's prev, the first from prev, and returns the
// batch and the hash of its last line.
func linked(batch []byte, prev string) ([]byte, string) {
	out := make([]byte, 0, len(batch)+bytes.Count(batch, []byte{'\n'})*(2*sha256.Size))
	var sum [sha256.Size]byte
	hexPrev := append(make([]byte, 0, 2*sha256.Size), prev...)
	for len(batch) > 0 {
		end := bytes.IndexByte(batch, '\n')
		line := batch[:end]
		batch = batch[end+1:]
		start := len(out)
		out = append(out, line[:len(line)-len(emptyPrev)]...)
		out = append(append(append(out, `"prev":"`...), hexPrev...), `"}`...)
		sum = sha256.Sum256(out[start:])
		hexPrev = hex.AppendEncode(hexPrev[:0], sum[:])
		out = append(out, '\n')
	}
	return out, string(hexPrev)
}

// lastLine reads the last whole line of the file at path (nil if it has
// none or does not exist), and whether a part line follows it.
func lastLine(path string) ([]byte, bool, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return nil, false, err
	}
	// Read back from the end in growing windows until a whole line shows.
	for window := int64(64 << 10); ; window *= 4 {
		start := max(0, st.Size()-window)
		buf := make([]byte, st.Size()-start)
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return nil, false, err
		}
		torn := buf[len(buf)-1] != '\n'
		end := bytes.LastIndexByte(buf, '\n')
		if end < 0 {
			if start == 0 {
				return nil, torn, nil // one part line, no whole one
			}
			continue
		}
		begin := bytes.LastIndexByte(buf[:end], '\n') + 1
		if begin == 0 && start > 0 {
			continue // the line may begin before the window
		}
		return buf[begin:end], torn, nil
	}
}
