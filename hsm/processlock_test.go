package hsm

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Two processLocks on one path hold separate open files, so they exclude
// each other as two processes' do: a writer excludes readers, readers
// share, and a waiting writer closes the gate to new readers, so that a
// busy reader cannot starve it.
func TestProcessLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "objects.lock")
	a, err := openProcessLock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	b, err := openProcessLock(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()

	a.rlock()
	b.rlock() // readers share
	b.runlock()

	var order atomic.Int64
	var writerAt, readerAt int64
	wrote := make(chan struct{})
	go func() {
		b.lock() // waits for a's reader
		writerAt = order.Add(1)
		time.Sleep(20 * time.Millisecond)
		b.unlock()
		close(wrote)
	}()
	time.Sleep(50 * time.Millisecond) // b waits, its gate closed
	read := make(chan struct{})
	go func() {
		a.rlock() // a new reader of a waits at the gate
		readerAt = order.Add(1)
		a.runlock()
		close(read)
	}()
	time.Sleep(50 * time.Millisecond)
	if order.Load() != 0 {
		t.Fatal("the writer got in under a reader, or a new reader passed a writer's gate")
	}
	a.runlock() // the first reader leaves: the writer goes, then the reader
	<-wrote
	<-read
	if writerAt != 1 || readerAt != 2 {
		t.Fatalf("writer %d, reader %d: the waiting writer must go first", writerAt, readerAt)
	}

	// A writer learns whether another process wrote since its own last
	// write (and then makes the token library look again).
	if !a.lock() {
		t.Fatal("a does not see b's write")
	}
	a.unlock()
	if a.lock() {
		t.Fatal("a sees a write of another process after its own")
	}
	a.unlock()
	if !b.lock() {
		t.Fatal("b does not see a's writes")
	}
	b.unlock()
}
