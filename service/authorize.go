package service

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/keyport-kms/keyport/policy"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/store"
)

// Caller is who sent a request, once its signature has been checked, and
// what policy conditions read of it. A request's context carries it
// (Authenticated); every key, alias and container the service acts on for
// it is then checked against the caller's policies and the key's policy
// before anything is read out, changed or asked of the token. A context
// without one is the operator's (the admin socket, the collector) and is
// not checked.
type Caller struct {
	AccessKeyID string
	// Action is the dialect's action with its service: "kms:Encrypt",
	// Tencent Cloud's "tag:ModifyResourceTags".
	Action string
	// Region and Account name resources in ARNs, as the dialect shows them.
	Region, Account string
	SourceIP        netip.Addr
	SecureTransport bool

	grant *grant
	perm  Permission
	known bool // perm names the action (a row of Permissions)
	// lang is the dialect's policy language: the one its refusals name
	// actions and resources in. principal is the user as key policies name it.
	lang      policy.Language
	principal string

	mu       sync.Mutex
	decision wire.Decision // the refusal, else the last allow
}

type callerKey struct{}

// NewCaller is the caller of an authenticated access, for action (with its
// service: "kms:Encrypt") on the account in region, as a dialect names them.
func NewCaller(acc wire.Access, action, region, account string, secure bool) *Caller {
	ip, _ := netip.ParseAddr(acc.SourceIP)
	return &Caller{AccessKeyID: acc.AccessKeyID, Action: action, Region: region, Account: account,
		SourceIP: ip, SecureTransport: secure}
}

// Authenticated returns ctx carrying c, with the grant of c's access key:
// its user and the user's compiled policies, from a cache kept as long as
// access-key secrets are (a change made elsewhere shows within one
// Options.SecretCacheTTL). It costs no HSM operation.
func (s *Service) Authenticated(ctx context.Context, c *Caller) (context.Context, error) {
	g, err := s.grants.get(c.AccessKeyID, func() (*grant, error) { return s.loadGrant(ctx, c.AccessKeyID) })
	if err != nil {
		return ctx, err
	}
	c.grant = g
	c.perm, c.known = PermissionOf(cloudOf(ctx), c.Action)
	c.lang = policy.RAM
	if cloudOf(ctx) == CloudTencent {
		c.lang = policy.CAM
	}
	c.principal = "acs:ram::" + c.Account + ":user/" + g.user
	c.decision = wire.Decision{User: g.user}
	return context.WithValue(ctx, callerKey{}, c), nil
}

// CallerOf returns the request's caller, nil for the operator's.
func CallerOf(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}

// Decision is what was decided for the request so far.
func (c *Caller) Decision() wire.Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.decision
}

// Checked returns err, or, for a user's request that succeeded without
// any check, a refusal: an action that forgot to ask is a bug, and is
// answered as one that was asked and denied (the dialects' tests walk every
// action so that none forgets).
func (c *Caller) Checked(err error) error {
	if c == nil || c.grant == nil || err != nil || c.grant.root {
		return err
	}
	if d := c.Decision(); !d.Checked {
		c.note(wire.Decision{Checked: true, Action: c.Action, By: "the action checked nothing"})
		return forbidden(c.Action, "the account")
	}
	return nil
}

// restricted reports whether ctx is a user's request: one whose policies
// decide (the operator's and the root's are allowed everything).
func restricted(ctx context.Context) bool {
	c := CallerOf(ctx)
	return c != nil && c.grant != nil && !c.grant.root
}

// Authorize checks the caller's action on the account as a whole (the key
// container): what actions that create or list keys, or touch no key,
// answer to.
func (s *Service) Authorize(ctx context.Context) error {
	return s.permit(ctx, policy.Resource{Kind: "key"}, nil)
}

// permitKey checks the caller's action on key k.
func (s *Service) permitKey(ctx context.Context, k *store.Key) error {
	return s.permit(ctx, policy.Resource{Kind: "key", ID: k.ID}, k)
}

// permitAlias checks the caller's action on an alias (alias/NAME).
func (s *Service) permitAlias(ctx context.Context, name string) error {
	return s.permit(ctx, policy.Resource{Kind: "alias", ID: name[len(AliasPrefix):]}, nil)
}

// as returns ctx in which the caller's action is checked under the names
// p sets: RAM's name for one half of a request (ReEncryptFrom,
// ReEncryptTo), or CAM's for what one request does (an UpdateRotationPolicy
// that turns rotation off is CAM's DisableKeyRotation), so that a policy
// decides a request as its own cloud's namesake would be decided.
func as(ctx context.Context, p Permission) context.Context {
	if CallerOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, asKey{}, p)
}

type asKey struct{}

// permit decides the caller's action on res (k is the key, for its tags
// and policy) and refuses it unless allowed. The root is allowed
// everything; a user what its policies or the key's policy allow and
// neither denies.
func (s *Service) permit(ctx context.Context, res policy.Resource, k *store.Key) error {
	c := CallerOf(ctx)
	if c == nil {
		return nil
	}
	res.Region, res.Account = c.Region, c.Account
	perm := c.perm
	if o, ok := ctx.Value(asKey{}).(Permission); ok {
		if o.RAM != "" {
			perm.RAM = o.RAM
		}
		if o.CAM != "" {
			perm.CAM = o.CAM
		}
	}
	shown := perm.RAM
	if c.lang == policy.CAM {
		shown = perm.CAM
	}
	arn := res.ARN(c.lang)
	if c.grant.root {
		c.note(wire.Decision{Checked: true, Allowed: true, Action: shown, Resource: arn, By: "root"})
		return nil
	}
	if !c.known {
		c.note(wire.Decision{Checked: true, Action: c.Action, Resource: arn, By: "no permission names the action"})
		return forbidden(c.Action, arn)
	}
	if Unchecked[perm.RAM] || Unchecked[perm.CAM] {
		c.note(wire.Decision{Checked: true, Allowed: true, Action: shown, Resource: arn, By: "unchecked action"})
		return nil
	}
	req := policy.Request{Action: perm.RAM, CAMAction: perm.CAM, Resource: res, Principal: c.principal,
		SourceIP: c.SourceIP, Time: s.now(), SecureTransport: c.SecureTransport}
	docs := c.grant.docs
	if k != nil {
		req.Tags = k.Tags
		if kp := s.keyPolicies.of(k); kp != nil {
			docs = append(slices.Clip(docs), policy.Named{Name: "key policy", Doc: kp})
		}
	}
	d := policy.Evaluate(req, docs...)
	out := wire.Decision{Checked: true, Allowed: d.Allowed, Action: shown, Resource: arn, By: "no statement allows"}
	if d.Statement >= 0 {
		out.By = "policy " + d.Policy + " statement " + strconv.Itoa(d.Statement)
	}
	c.note(out)
	if !d.Allowed {
		return forbidden(shown, arn)
	}
	return nil
}

// note keeps d unless a refusal was noted before.
func (c *Caller) note(d wire.Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.decision.Checked && !c.decision.Allowed {
		return
	}
	d.User = c.decision.User
	c.decision = d
}

// forbidden names the action and the resource, never the policy: what
// decided is the operator's to read, in the audit log.
func forbidden(action, arn string) error {
	return errorf(KindForbidden, "You are not authorized to perform %s on %s.", action, arn)
}

// grant is what an access key may do: the account root's everything, or a
// user's policies, compiled.
type grant struct {
	root bool
	user string
	docs []policy.Named // sorted by name
}

// loadGrant reads an access key's user and compiles its policies. A user
// that is gone (deleted with --force while a request was in flight) has no
// policies, and so no rights; so has a stored policy that no longer parses.
func (s *Service) loadGrant(ctx context.Context, id string) (*grant, error) {
	a, err := s.accessKeys().GetAccessKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(KindUnknownAccessKey, "access key %s not found", id)
	}
	if err != nil {
		return nil, storeError("get access key", err)
	}
	if a.User == "" {
		return &grant{root: true}, nil
	}
	g := &grant{user: a.User}
	u, err := s.st.GetUser(ctx, a.User)
	if errors.Is(err, store.ErrNotFound) {
		return g, nil
	}
	if err != nil {
		return nil, storeError("get user", err)
	}
	for _, name := range slices.Sorted(maps.Keys(u.Policies)) {
		doc, err := policy.Parse([]byte(u.Policies[name]), policy.MaxSize)
		if err != nil {
			s.log.Warn("a stored user policy does not parse; it grants nothing", "user", a.User, "policy", name, "err", err)
			continue
		}
		g.docs = append(g.docs, policy.Named{Name: name, Doc: doc})
	}
	return g, nil
}

// grantCache keeps grants by access key for a TTL. Only keys that
// authenticated are looked up, so it is bounded by the access keys there
// are; a change made through this process drops it whole (forget).
type grantCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]grantEntry
}

type grantEntry struct {
	g       *grant
	expires time.Time
}

func newGrantCache(ttl time.Duration, now func() time.Time) *grantCache {
	return &grantCache{ttl: ttl, now: now, entries: map[string]grantEntry{}}
}

func (c *grantCache) get(id string, load func() (*grant, error)) (*grant, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.g, nil
	}
	g, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.entries[id] = grantEntry{g: g, expires: c.now().Add(c.ttl)}
	c.mu.Unlock()
	return g, nil
}

// forget drops every grant: users, policies and access keys change rarely,
// and a change must show at once on the process that made it.
func (c *grantCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

// keyPolicyCache keeps keys' policies compiled, by key, while the text
// stays the same: one entry per key that has a policy, at most
// keyPolicyCacheSize (a deleted key's entry stays until it is pushed out).
type keyPolicyCache struct {
	mu      sync.Mutex
	entries map[string]keyPolicyEntry
}

const keyPolicyCacheSize = 4096

type keyPolicyEntry struct {
	text string
	doc  *policy.Document // nil: the text does not parse, and grants nothing
}

// of is k's policy compiled; nil when it has none (the default key policy
// grants no user anything) or it does not parse.
func (c *keyPolicyCache) of(k *store.Key) *policy.Document {
	if k.Policy == "" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k.ID]; ok && e.text == k.Policy {
		return e.doc
	}
	doc, _ := policy.Parse([]byte(k.Policy), policy.KeyPolicyMaxSize)
	if c.entries == nil {
		c.entries = map[string]keyPolicyEntry{}
	}
	for id := range c.entries { // full: push out one, any one (compiling again costs microseconds)
		if len(c.entries) < keyPolicyCacheSize {
			break
		}
		delete(c.entries, id)
	}
	c.entries[k.ID] = keyPolicyEntry{text: k.Policy, doc: doc}
	return doc
}
