package store

import "sync"

// LocalLeases are the leases this process holds, so that a second try
// within the process fails as one from another process does. Every backend
// keeps one in front of its own kind of lease.
type LocalLeases struct {
	mu   sync.Mutex
	held map[string]bool
}

// Take takes the lease unless this process holds it, and says whether it did.
func (l *LocalLeases) Take(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return false
	}
	if l.held == nil {
		l.held = map[string]bool{}
	}
	l.held[name] = true
	return true
}

// Drop gives the lease up.
func (l *LocalLeases) Drop(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, name)
}
