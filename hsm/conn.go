package hsm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// conn is one logged-in connection to the token: a crypto11 context for RSA
// key generation and decryption, a miekg context and session pool for the
// rest, and the handles found so far. When the token goes away the whole
// conn is thrown away and a new one built, because handles and logins do not
// survive a module reset.
type conn struct {
	cfg  Config
	mod  *pkcs11.Ctx
	c11  *crypto11.Context
	slot uint
	pool *sessionPool
	keys keyCache

	secretMu sync.Mutex // serialises find-or-create of named secret keys

	// Some tokens (SoftHSM2: SoftHSMv2 issue #573) corrupt token objects
	// created or destroyed while other threads touch the token. There a call
	// that creates or destroys token objects runs alone, and every other
	// call shares objMu; the sections that write are kept short (see
	// GenerateKeyPair). Tokens without the quirk keep full parallelism.
	serialWrites bool
	objMu        sync.RWMutex
	// plock does for processes what objMu does for threads, on tokens
	// whose objects are files shared by every process (replicas).
	plock *processLock

	// inflight is read-locked by every operation; close takes it for writing
	// so that the library is never finalised under a running call.
	inflight sync.RWMutex
}

func openConn(cfg Config) (*conn, error) {
	c11cfg := &crypto11.Config{
		Path:        cfg.Module,
		TokenLabel:  cfg.TokenLabel,
		TokenSerial: cfg.TokenSerial,
		Pin:         cfg.PIN,
		// One more than our own pool, so that a caller holding one of our
		// sessions never waits on crypto11's pool.
		MaxSessions:     cfg.MaxSessions + 1,
		PoolWaitTimeout: cfg.SessionWait,
	}
	if cfg.Slot != nil {
		n := int(*cfg.Slot)
		c11cfg.SlotNumber = &n
	}
	c11, err := crypto11.Configure(c11cfg)
	if err != nil {
		return nil, diagnose(&cfg, err)
	}
	mod, err := acquireModule(cfg.Module)
	if err != nil {
		_ = c11.Close()
		return nil, err
	}
	c := &conn{cfg: cfg, mod: mod, c11: c11, keys: keyCache{m: map[KeyID]*keyEntry{}}}
	slot, info, err := findSlot(mod, &cfg)
	if err != nil {
		c.close()
		return nil, err
	}
	c.slot = slot
	q := quirksOf(info.Model)
	c.serialWrites = q.serialObjectWrites
	if q.processLockPath != nil {
		path := q.processLockPath()
		if c.plock, err = openProcessLock(path); err == nil {
			cfg.Logger.Info("hsm: token object writes serialised with other processes on this token", "lock", path)
		} else {
			cfg.Logger.Warn("hsm: no lock file to serialise object writes with other processes on this token; run one Keyport process on it",
				"path", path, "err", err)
		}
	}
	c.pool = newSessionPool(mod, slot, cfg.MaxSessions, cfg.SessionWait)
	c.pool.onWait = cfg.OnSessionWait
	// crypto11 logged in on a session of its own; through some client
	// libraries (p11-kit remoting) that login does not cover the sessions
	// opened here yet. Make sure one of ours is logged in before any call.
	s, err := c.pool.get(context.Background())
	if err != nil {
		c.close()
		return nil, fmt.Errorf("open token %q: %w", cfg.tokenName(), err)
	}
	if err := c.relogin(s); err != nil {
		c.pool.discard(s)
		c.close()
		return nil, err
	}
	c.pool.put(s)
	return c, nil
}

// lockMode says how a call shares the token with others where object
// writes must run alone.
type lockMode int

const (
	lockShared    lockMode = iota // reads token objects: shares objMu
	lockExclusive                 // creates or destroys token objects: runs alone
	lockNone                      // touches only session objects, and takes objMu itself (writing) for what it writes
)

// exclusive runs fn on session s under objMu as mode says, on a token
// that needs it. fn must not call back into the HSM: a nested call would
// wait on the lock its caller holds.
func (c *conn) exclusive(mode lockMode, s pkcs11.SessionHandle, fn func() error) error {
	switch {
	case !c.serialWrites || mode == lockNone:
	case mode == lockExclusive:
		// Other processes first: this process's readers go on meanwhile.
		othersWrote := c.plock.lock()
		defer c.plock.unlock()
		c.objMu.Lock()
		defer c.objMu.Unlock()
		if othersWrote {
			c.catchUp(s)
		}
	default:
		// The process lock before objMu, in the order writers take them.
		c.plock.rlock()
		defer c.plock.runlock()
		c.objMu.RLock()
		defer c.objMu.RUnlock()
	}
	return fn()
}

// writing runs fn alone, for a lockNone call's short write to the token.
func (c *conn) writing(s pkcs11.SessionHandle, fn func() error) error {
	return c.exclusive(lockExclusive, s, fn)
}

// catchUp makes the library read the token's object list again before
// this process writes to it, when another process has written since this
// one last did. SoftHSM2 notices other processes' objects by a generation
// count on disk, and a process's own write sets its count to the disk's,
// so objects another process made since this one last looked would stay
// unseen for good (ImportKeyMaterial on one replica not finding a wrapping
// key another made). A search, under the exclusive lock, looks first.
func (c *conn) catchUp(s pkcs11.SessionHandle) {
	if err := c.mod.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, "keyport/catch-up")}); err == nil {
		_ = c.mod.FindObjectsFinal(s)
	}
}

// relogin logs the application in again if the token forgot the login.
func (c *conn) relogin(s pkcs11.SessionHandle) error {
	if in, err := c.loggedIn(s); err == nil && in {
		return nil
	}
	err := c.mod.Login(s, pkcs11.CKU_USER, c.cfg.PIN)
	if err != nil && !isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return loginError(err, c.cfg.tokenName())
	}
	return nil
}

// loggedIn reports whether the application is logged in as the user.
func (c *conn) loggedIn(s pkcs11.SessionHandle) (bool, error) {
	info, err := c.mod.GetSessionInfo(s)
	if err != nil {
		return false, err
	}
	return info.State == pkcs11.CKS_RW_USER_FUNCTIONS || info.State == pkcs11.CKS_RO_USER_FUNCTIONS, nil
}

func (c *conn) close() {
	c.inflight.Lock()
	defer c.inflight.Unlock()
	if c.pool != nil {
		c.pool.close()
	}
	_ = c.c11.Close()
	c.plock.close()
	if c.mod != nil {
		releaseModule(c.cfg.Module)
	}
}

// diagnose turns a failed crypto11.Configure into one clear error, looking at
// the module itself where crypto11's error does not say enough.
func diagnose(cfg *Config, c11err error) error {
	var ckr pkcs11.Error
	if errors.As(c11err, &ckr) {
		switch classify(c11err) {
		case failDevice:
			return newError(ErrUnavailable, c11err, "token %q unavailable: %v", cfg.tokenName(), c11err)
		}
		if isCKR(c11err, pkcs11.CKR_PIN_INCORRECT) || isCKR(c11err, pkcs11.CKR_PIN_LOCKED) ||
			isCKR(c11err, pkcs11.CKR_PIN_LEN_RANGE) || isCKR(c11err, pkcs11.CKR_PIN_INVALID) {
			return loginError(c11err, cfg.tokenName())
		}
		return fmt.Errorf("open token %q: %w", cfg.tokenName(), c11err)
	}
	if err := loadModule(cfg.Module); err != nil {
		return err
	}
	mod, err := acquireModule(cfg.Module)
	if err != nil {
		return err
	}
	defer releaseModule(cfg.Module)
	if _, _, err := findSlot(mod, cfg); err != nil {
		return err
	}
	return fmt.Errorf("open token %q: %w", cfg.tokenName(), c11err)
}
