// Package backupfile is the format of `keyport store backup`'s files: a
// stamp saying what the backup is, the embedded store's file as one read
// transaction copied it, and a SHA-256 digest of both. A backup may be cut
// short or altered on its way to tape and back, and bbolt cannot read a
// damaged file safely (its checker itself can fault), so nothing hands the
// store to bbolt before the digest matches.
//
//	"keyport-backup 1\n"
//	uint32 big-endian  stamp length (at most MaxStamp)
//	stamp              JSON, service.Snapshot
//	uint64 big-endian  store length
//	store              the bbolt file
//	[32]byte           SHA-256 of everything before it
package backupfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

const magic = "keyport-backup 1\n"

// MaxStamp bounds the stamp a reader accepts.
const MaxStamp = 64 << 10

// ErrDamaged: the file is not a whole backup as store backup wrote it.
var ErrDamaged = errors.New("damaged backup")

// ErrNotBackup: the file is not a backup at all.
var ErrNotBackup = errors.New("not a backup made by keyport store backup")

// Write writes a backup of stamp and the size bytes of the store.
func Write(w io.Writer, stamp []byte, store io.Reader, size int64) error {
	if len(stamp) > MaxStamp {
		return fmt.Errorf("backup stamp of %d bytes", len(stamp))
	}
	d := sha256.New()
	out := io.MultiWriter(w, d)
	head := make([]byte, 0, len(magic)+4+len(stamp)+8)
	head = append(head, magic...)
	head = binary.BigEndian.AppendUint32(head, uint32(len(stamp)))
	head = append(head, stamp...)
	head = binary.BigEndian.AppendUint64(head, uint64(size))
	if _, err := out.Write(head); err != nil {
		return err
	}
	if n, err := io.Copy(out, io.LimitReader(store, size)); err != nil {
		return err
	} else if n != size {
		return fmt.Errorf("the store gave %d of %d bytes", n, size)
	}
	_, err := w.Write(d.Sum(nil))
	return err
}

// Reader reads a backup: Open reads the stamp, Store copies the store and
// checks the digest.
type Reader struct {
	r     *bufio.Reader
	d     hash.Hash
	stamp []byte
	size  uint64
}

// Open reads a backup's header.
func Open(r io.Reader) (*Reader, error) {
	br := &Reader{r: bufio.NewReader(r), d: sha256.New()}
	head := make([]byte, len(magic)+4)
	if _, err := br.read(head); err != nil || !bytes.Equal(head[:len(magic)], []byte(magic)) {
		return nil, ErrNotBackup
	}
	n := binary.BigEndian.Uint32(head[len(magic):])
	if n > MaxStamp {
		return nil, fmt.Errorf("%w: a stamp of %d bytes", ErrDamaged, n)
	}
	br.stamp = make([]byte, n)
	if _, err := br.read(br.stamp); err != nil {
		return nil, fmt.Errorf("%w: cut short in its stamp", ErrDamaged)
	}
	size := make([]byte, 8)
	if _, err := br.read(size); err != nil {
		return nil, fmt.Errorf("%w: cut short in its stamp", ErrDamaged)
	}
	br.size = binary.BigEndian.Uint64(size)
	return br, nil
}

func (r *Reader) read(p []byte) (int, error) {
	n, err := io.ReadFull(r.r, p)
	r.d.Write(p[:n])
	return n, err
}

// Stamp is the backup's stamp, not yet checked against the digest: it is
// trusted only once Store has returned without error.
func (r *Reader) Stamp() []byte { return r.stamp }

// Store copies the store to w and checks the digest; an error means w got
// something other than the store backed up, and must be thrown away.
func (r *Reader) Store(w io.Writer) (int64, error) {
	n, err := io.Copy(io.MultiWriter(w, r.d), io.LimitReader(r.r, int64(min(r.size, 1<<62))))
	if err != nil {
		return n, err
	}
	if uint64(n) != r.size {
		return n, fmt.Errorf("%w: cut short (%d of %d bytes of store)", ErrDamaged, n, r.size)
	}
	want := r.d.Sum(nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r.r, got); err != nil {
		return n, fmt.Errorf("%w: cut short before its digest", ErrDamaged)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return n, fmt.Errorf("%w: its digest does not match (altered)", ErrDamaged)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return n, fmt.Errorf("%w: bytes after its digest", ErrDamaged)
	}
	return n, nil
}
