package hsm

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// processLock is a readers-writer lock across processes, for a token
// that keeps its objects in files every process using it reads and writes
// (SoftHSM2: SoftHSMv2 issue #573 is as true between processes as between
// threads, and a process that reads the object directory while another
// writes it can miss the new object). Calls that create or destroy token
// objects hold it exclusively; every other call shares it. A nil
// processLock (every other token) costs nothing.
//
// flock locks belong to an open file, so each role has a file of its own
// and this process's readers share one shared lock (counted). Writers first
// close a gate that every new reader passes through, so that a steady flow
// of reads in one replica cannot starve another replica's writes.
type processLock struct {
	wmu          sync.Mutex // one writer of this process at a time
	gateW, mainW *os.File
	// The lock file holds a count of writes, raised by every writer of any
	// process; mine is the count after this process's last write. When the
	// file says otherwise, another process has written since.
	mine uint64

	rmu          sync.Mutex // guards readers and mainR's shared lock
	readers      int
	gateR, mainR *os.File
}

// openProcessLock opens (making them if need be) the lock files at path.
func openProcessLock(path string) (*processLock, error) {
	var files [4]*os.File
	for i, name := range []string{path + ".gate", path, path + ".gate", path} {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			for _, g := range files[:i] {
				g.Close()
			}
			return nil, err
		}
		files[i] = f
	}
	return &processLock{gateW: files[0], mainW: files[1], gateR: files[2], mainR: files[3]}, nil
}

func flock(f *os.File, how int) {
	for syscall.Flock(int(f.Fd()), how) == syscall.EINTR {
	}
}

// lock takes the lock exclusively: the gate first, so that no new reader
// starts, then the lock itself, once every process's readers are done. It
// reports whether another process has written since this one last did.
func (l *processLock) lock() (othersWrote bool) {
	if l == nil {
		return false
	}
	l.wmu.Lock()
	flock(l.gateW, syscall.LOCK_EX)
	flock(l.mainW, syscall.LOCK_EX)
	return l.count() != l.mine
}

// unlock counts this write and gives the lock up.
func (l *processLock) unlock() {
	if l == nil {
		return
	}
	l.mine = l.count() + 1
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], l.mine)
	if _, err := l.mainW.WriteAt(b[:], 0); err != nil {
		l.mine = 0 // unknown: the next write looks again
	}
	flock(l.mainW, syscall.LOCK_UN)
	flock(l.gateW, syscall.LOCK_UN)
	l.wmu.Unlock()
}

// count reads the write count (0 in a new file); the exclusive lock is held.
func (l *processLock) count() uint64 {
	var b [8]byte
	if n, _ := l.mainW.ReadAt(b[:], 0); n < len(b) {
		return 0
	}
	return binary.BigEndian.Uint64(b[:])
}

// rlock shares the lock, after passing the gate (waiting out a writer
// that has closed it, in any process).
func (l *processLock) rlock() {
	if l == nil {
		return
	}
	// Not under rmu: a reader waiting at the gate must not keep this
	// process's readers from finishing, which the writer waits for.
	flock(l.gateR, syscall.LOCK_SH)
	flock(l.gateR, syscall.LOCK_UN)
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.readers == 0 {
		flock(l.mainR, syscall.LOCK_SH)
	}
	l.readers++
}

func (l *processLock) runlock() {
	if l == nil {
		return
	}
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if l.readers--; l.readers == 0 {
		flock(l.mainR, syscall.LOCK_UN)
	}
}

func (l *processLock) close() {
	if l != nil {
		for _, f := range []*os.File{l.gateW, l.mainW, l.gateR, l.mainR} {
			f.Close()
		}
	}
}

// softHSMLockPath is the lock file of SoftHSM2 tokens: in its token
// directory (from SOFTHSM2_CONF, or the packaged default), beside the
// tokens' own directories, which is where every process using the tokens
// can write. SoftHSM2 looks only at the directory's subdirectories.
func softHSMLockPath() string {
	conf := os.Getenv("SOFTHSM2_CONF")
	if conf == "" {
		conf = "/etc/softhsm/softhsm2.conf"
	}
	f, err := os.Open(conf)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == "directories.tokendir" {
			return filepath.Join(strings.TrimSpace(v), ".keyport-object-writes.lock")
		}
	}
	return ""
}
