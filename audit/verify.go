package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Finding is one place where the log does not hold.
type Finding struct {
	File    string `json:"file"`
	Line    int    `json:"line"` // 1-based, in File
	Problem string `json:"problem"`
	// Tampered is false for what a fault, not an editor, leaves: a part
	// line a failed write left (disk full), which the chain steps over.
	Tampered bool `json:"tampered"`
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Files, Lines, Checkpoints int
	// Unauthenticated is how many lines follow the last checkpoint: a live
	// log's last few seconds, which only the next checkpoint will cover.
	Unauthenticated int
	Findings        []Finding
}

// OK says whether nothing was tampered with.
func (r *VerifyReport) OK() bool {
	for _, f := range r.Findings {
		if f.Tampered {
			return false
		}
	}
	return true
}

// CheckMAC reports whether mac is the HMAC-SHA256 of data under the token
// key key (hex id).
type CheckMAC func(ctx context.Context, key string, data, mac []byte) (bool, error)

// maxLine bounds one line: records are small; a longer "line" is not one.
const maxLine = 1 << 20

// Verify checks files, oldest first, as one chain: every line names the
// hash of the line before it (across files: a file goes on from the one
// before), every checkpoint's MAC holds under its deployment's key and
// covers a line of the chain, and, unless live (the file a running server
// writes), the last line is a closing checkpoint, so that no tail was cut
// off. It reads no store: the token alone checks the MACs.
func Verify(ctx context.Context, files []string, check CheckMAC, live bool) (*VerifyReport, error) {
	r := &VerifyReport{Files: len(files)}
	seen := map[string]bool{"": true} // line hashes of the chain so far; "" is what a new chain's first checkpoint covers
	prev, first := "", true
	lastFile, lastLine, closing := "", 0, false
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReaderSize(f, 64<<10)
		for n := 1; ; n++ {
			line, err := br.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				line, err = readLong(br, line)
			}
			if len(line) == 0 && err == io.EOF {
				break
			}
			if err != nil && err != io.EOF {
				f.Close()
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if err == io.EOF { // no newline: the write of this line never finished, or the file was cut
				r.Findings = append(r.Findings, Finding{name, n, "the file ends inside a line: it was truncated", true})
				break
			}
			line = line[:len(line)-1]
			if len(line) == 0 {
				continue // the newline a failed write's next batch starts with
			}
			r.Lines++
			var rec struct {
				Prev       *string
				Dialect    string
				Checkpoint *Checkpoint
			}
			if json.Unmarshal(line, &rec) != nil || rec.Prev == nil {
				r.Findings = append(r.Findings, Finding{name, n, "not a whole record (a write that failed part-way, e.g. on a full disk)", false})
				continue
			}
			switch {
			case first && *rec.Prev != "":
				// The chain goes on from an earlier file not given: nothing to check it against.
			case !first && *rec.Prev != prev && n == 1:
				r.Findings = append(r.Findings, Finding{name, n, fmt.Sprintf("the file does not go on from %s (its last line, %d, is not the line before this one): a file is missing, out of order, or spliced in", lastFile, lastLine), true})
			case !first && *rec.Prev != prev:
				r.Findings = append(r.Findings, Finding{name, n, fmt.Sprintf("line %d does not follow line %d: line %d was changed, or a line was inserted, removed or moved here", n, lastLine, lastLine), true})
			}
			first = false
			h := lineHash(line)
			// Admin commands run while serve is stopped append after its
			// closing checkpoint; the next start's checkpoint covers them.
			closing = closing && rec.Dialect == "admin" && rec.Checkpoint == nil
			if cp := rec.Checkpoint; cp != nil {
				r.Checkpoints++
				r.Unauthenticated = 0
				mac, herr := hex.DecodeString(cp.MAC)
				ok := false
				if herr == nil {
					if ok, err = check(ctx, cp.Key, checkpointInput(cp.Deployment, cp.Covers), mac); err != nil {
						f.Close()
						return nil, fmt.Errorf("check the MAC of %s line %d: %w", name, n, err)
					}
				}
				switch {
				case !ok:
					r.Findings = append(r.Findings, Finding{name, n, "the checkpoint's MAC does not hold: it was forged or changed", true})
				case !seen[cp.Covers]:
					r.Findings = append(r.Findings, Finding{name, n, "the checkpoint covers a line that is not in the chain before it: lines before it were changed", true})
				}
				closing = cp.Closing
			} else {
				r.Unauthenticated++
			}
			seen[h], prev, lastFile, lastLine = true, h, name, n
		}
		f.Close()
	}
	switch {
	case !live && r.Lines > 0 && !closing:
		r.Findings = append(r.Findings, Finding{lastFile, lastLine, fmt.Sprintf("the log does not end with a closing checkpoint: %d lines after the last checkpoint, and any after them, may have been cut off (give --live for a running server's file)", r.Unauthenticated), true})
	case r.Unauthenticated > 0 && closing:
		r.Findings = append(r.Findings, Finding{lastFile, lastLine, fmt.Sprintf("%d admin lines after the closing checkpoint, from commands run while serve was stopped: its next start's checkpoint covers them", r.Unauthenticated), false})
	}
	return r, nil
}

// readLong reads the rest of a line longer than the reader's buffer, up to
// maxLine.
func readLong(br *bufio.Reader, head []byte) ([]byte, error) {
	line := append([]byte{}, head...)
	for len(line) < maxLine {
		more, err := br.ReadSlice('\n')
		line = append(line, more...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
	return nil, fmt.Errorf("a line longer than %d bytes", maxLine)
}
