package hsm

import (
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// keyEntry is what the cache knows of one key: the handle of its private or
// secret half and its type.
type keyEntry struct {
	handle  pkcs11.ObjectHandle
	class   uint
	keyType uint
}

// keyCache maps ids to handles so that no request searches the token:
// C_FindObjects costs grow with the number of objects.
type keyCache struct {
	mu sync.RWMutex
	m  map[KeyID]*keyEntry
}

func (k *keyCache) get(id KeyID) *keyEntry {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.m[id]
}

func (k *keyCache) put(id KeyID, e *keyEntry) {
	k.mu.Lock()
	k.m[id] = e
	k.mu.Unlock()
}

// reset forgets every handle: after a handle turned out stale, the others
// may be too.
func (k *keyCache) reset() {
	k.mu.Lock()
	clear(k.m)
	k.mu.Unlock()
}

func (k *keyCache) drop(id KeyID) {
	k.mu.Lock()
	delete(k.m, id)
	k.mu.Unlock()
}

func (id KeyID) bytes() ([]byte, error) {
	b, err := hex.DecodeString(string(id))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%w: malformed key id %q", ErrNotFound, id)
	}
	return b, nil
}

// key returns the private or secret half of id, searching the token only on
// a cache miss (the first use after start-up or a reconnect).
func (c *conn) key(s pkcs11.SessionHandle, id KeyID) (*keyEntry, error) {
	if e := c.keys.get(id); e != nil {
		return e, nil
	}
	raw, err := id.bytes()
	if err != nil {
		return nil, err
	}
	e, err := c.findKey(s, id, raw)
	if err != nil || e != nil {
		return e, err
	}
	// Private objects are invisible without a login: a miss while logged
	// out is a lost login, which do repairs, not an unknown key.
	if in, err := c.loggedIn(s); err != nil {
		return nil, err
	} else if !in {
		return nil, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)
	}
	// A session can say it is logged in while the token behind it has not
	// caught up (a network HSM's new connection right after a reconnect
	// answered misses for keys it holds): log in once more and search again
	// before calling a key missing. Misses are rare on the request path.
	if err := c.mod.Login(s, pkcs11.CKU_USER, c.cfg.PIN); err != nil && !isCKR(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return nil, loginError(err, c.cfg.tokenName())
	}
	if e, err = c.findKey(s, id, raw); err != nil || e != nil {
		return e, err
	}
	return nil, fmt.Errorf("%w: key %s", ErrNotFound, id)
}

// findKey searches the token for the private or secret half of id and
// caches it; nil when there is none.
func (c *conn) findKey(s pkcs11.SessionHandle, id KeyID, raw []byte) (*keyEntry, error) {
	handles, err := c.find(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, raw)})
	if err != nil {
		return nil, err
	}
	for _, h := range handles {
		attrs, err := c.mod.GetAttributeValue(s, h, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		})
		if err != nil {
			return nil, fmt.Errorf("read key %s: %w", id, err)
		}
		class, keyType := attrUint(attrs[0]), attrUint(attrs[1])
		if class != pkcs11.CKO_PRIVATE_KEY && class != pkcs11.CKO_SECRET_KEY {
			continue
		}
		e := &keyEntry{handle: h, class: class, keyType: keyType}
		c.keys.put(id, e)
		return e, nil
	}
	return nil, nil
}

// find returns the handles of every object matching the template.
func (c *conn) find(s pkcs11.SessionHandle, template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := c.mod.FindObjectsInit(s, template); err != nil {
		return nil, fmt.Errorf("find objects: %w", err)
	}
	var out []pkcs11.ObjectHandle
	for {
		hs, _, err := c.mod.FindObjects(s, 256)
		if err != nil {
			_ = c.mod.FindObjectsFinal(s)
			return nil, fmt.Errorf("find objects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		out = append(out, hs...)
	}
	if err := c.mod.FindObjectsFinal(s); err != nil {
		return nil, fmt.Errorf("find objects: %w", err)
	}
	return out, nil
}

func attrUint(a *pkcs11.Attribute) uint {
	var v uint
	for i := len(a.Value) - 1; i >= 0; i-- { // CK_ULONG in host (little-endian) order
		v = v<<8 | uint(a.Value[i])
	}
	return v
}

func attrBool(a *pkcs11.Attribute) bool {
	return len(a.Value) > 0 && a.Value[0] != 0
}
