package wire

import (
	"context"
	"sync"
)

// KeyUse is a key a request acted on, resolved: the key's id and the
// version used, with the alias the caller named it by, if any.
type KeyUse struct {
	KeyID   string `json:"key_id"`
	Version string `json:"version,omitempty"`
	Alias   string `json:"alias,omitempty"`
}

type keyLogKey struct{}

type keyLog struct {
	mu   sync.Mutex
	uses []keyNote
}

type keyNote struct {
	KeyUse
	primary bool // the version is the key's primary one, noted when the key was resolved, not yet the one used
}

// maxKeyUses bounds what one request records (a batch names at most a few
// hundred keys).
const maxKeyUses = 1000

// WithKeyLog returns a context in which the service notes every key it
// resolves (TouchKey, UseVersion), and a function that returns them.
func WithKeyLog(ctx context.Context) (context.Context, func() []KeyUse) {
	l := &keyLog{}
	return context.WithValue(ctx, keyLogKey{}, l), func() []KeyUse {
		l.mu.Lock()
		defer l.mu.Unlock()
		out := make([]KeyUse, len(l.uses))
		for i, n := range l.uses {
			out[i] = n.KeyUse
		}
		return out
	}
}

// TouchKey notes a key resolved for the request, with its primary version:
// what every action but Decrypt acts on. The same key once.
func TouchKey(ctx context.Context, u KeyUse) {
	note(ctx, u, true)
}

// UseVersion notes that the request used a version of a key other than the
// one TouchKey noted (Decrypt: the version the ciphertext names).
func UseVersion(ctx context.Context, keyID, version string) {
	note(ctx, KeyUse{KeyID: keyID, Version: version}, false)
}

func note(ctx context.Context, u KeyUse, primary bool) {
	l, _ := ctx.Value(keyLogKey{}).(*keyLog)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, o := range l.uses {
		if o.KeyID != u.KeyID {
			continue
		}
		switch {
		case o.Version == u.Version:
			l.uses[i].primary = o.primary && primary
			return
		case !primary && o.primary:
			// The key was resolved for this use: the version used replaces
			// the primary one noted then.
			l.uses[i].Version, l.uses[i].primary = u.Version, false
			return
		}
	}
	if len(l.uses) < maxKeyUses {
		if u.Alias == "" {
			for _, o := range l.uses {
				if o.KeyID == u.KeyID {
					u.Alias = o.Alias
				}
			}
		}
		l.uses = append(l.uses, keyNote{KeyUse: u, primary: primary})
	}
}
