// Package tencent serves Tencent Cloud KMS's API 3.0 (version 2019-01-18)
// over the service: TC3-HMAC-SHA256 signatures, JSON bodies, and every
// answer HTTP 200 with a Response object, as Tencent Cloud's clients expect.
// It only translates; the rules are the service's.
package tencent

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/ids"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/sign"
)

// APIVersion is the only version served.
const APIVersion = "2019-01-18"

// MaxPlaintext is Tencent Cloud's bound on Encrypt's plaintext.
const MaxPlaintext = 4096

// TagAPIVersion is Tencent Cloud's tag service, which Terraform reads a
// key's tags from: served on the same listener, told apart by X-TC-Version
// (the provider reaches kms.<domain> and tag.<domain> from one setting).
const TagAPIVersion = "2018-08-13"

// MaxBody bounds a request body.
const MaxBody = 64 << 10

// Skew is the clock skew allowed for X-TC-Timestamp.
const Skew = 5 * time.Minute

// Config wires a Handler.
type Config struct {
	Service *service.Service
	// StrictSignatures refuses requests whose signature leaves X-TC-Action
	// out (SignedHeaders without x-tc-action), so that no captured request
	// can be sent again as another action. Off by default: the official SDKs
	// and Terraform's provider sign only content-type and host, and
	// Tencent Cloud accepts them.
	StrictSignatures bool
	// Region and AccountID name keys in tag resource names
	// (qcs::kms:REGION:uin/ACCOUNT:key/…); AccountID is also CreatorUin.
	Region    string
	AccountID string
	wire.Common
}

// Handler serves the Tencent Cloud dialect.
type Handler struct {
	cfg        Config
	rec        wire.Recorder // audits, logs and counts each request before it is answered
	creatorUin uint64        // AccountID as Tencent Cloud's numeric uin; 0 if it is not a number
}

// New makes a Handler; by default 100 requests/s per SecretId, the
// 5-minute window for signatures, and 5 failed authentications a second per
// address (bursts of 20).
func New(cfg Config) *Handler {
	cfg.Defaults()
	if cfg.Region == "" {
		cfg.Region = "ap-guangzhou"
	}
	h := &Handler{cfg: cfg}
	h.creatorUin, _ = strconv.ParseUint(cfg.AccountID, 10, 64)
	h.rec = h.recorder()
	return h
}

type base struct {
	RequestId string `json:"RequestId"`
}

func (b *base) setRequestID(id string) { b.RequestId = id }

type withRequestID interface{ setRequestID(string) }

type errorResponse struct {
	Error struct {
		Code    string `json:"Code"`
		Message string `json:"Message"`
	} `json:"Error"`
	RequestId string `json:"RequestId"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	reqID := ids.NewRequestID()
	ctx, keys := wire.WithKeyLog(service.WithCloud(r.Context(), service.CloudTencent)) // Tencent Cloud's state rules
	acc := wire.Access{Dialect: "tencent", RequestID: reqID, Action: r.Header.Get("X-TC-Action"), SourceIP: h.cfg.Proxies.Client(r.RemoteAddr, r.Header.Values)}
	var body []byte
	var err error
	if h.cfg.Guard.BlockedAddress(acc.SourceIP) {
		err = errBlocked // refused unread: nothing of it is parsed, looked up or recorded alone
	} else {
		if body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody)); err != nil {
			err = errBodySize
		}
		if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && (r.Method != http.MethodPost || ct != "application/json") {
			err = errNotJSON
		}
		if err != nil {
			h.cfg.Guard.Failed(acc.SourceIP, "") // malformed before any credential: a failed authentication
		}
	}
	if err == nil {
		acc.AccessKeyID, acc.Authenticated, err = h.admit(ctx, r, body, acc.SourceIP)
	}
	if err == nil {
		err = h.rec.Ready(ctx)
	}
	var caller *service.Caller
	if err == nil {
		caller = h.caller(r, acc)
		ctx, err = h.cfg.Service.Authenticated(ctx, caller)
	}
	var out withRequestID
	if err == nil {
		out, err = h.dispatch(ctx, r, acc.Action, body)
		err = caller.Checked(err)
	}
	if caller != nil {
		acc.Decision = caller.Decision()
	}
	if acc.Authenticated {
		var named struct{ KeyId string }
		_ = json.Unmarshal(body, &named) // for the audit log only: the action parses the body itself
		acc.KeyID = named.KeyId
	}
	acc.Blocked, acc.Keys = err == errBlocked, keys()
	err = h.rec.Settle(ctx, acc, start, err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK) // always: Tencent Cloud's clients throw on any other status
	if err != nil {
		ae := toAPIError(err)
		var e errorResponse
		e.Error.Code, e.Error.Message, e.RequestId = ae.Code, ae.Message, reqID
		_ = json.NewEncoder(w).Encode(map[string]any{"Response": e})
		return
	}
	out.setRequestID(reqID)
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": out})
}

// recorder is made once, by New. Metric labels come from the action tables
// and the error table only.
func (h *Handler) recorder() wire.Recorder {
	return wire.Recorder{Audit: h.cfg.Audit, Logger: h.cfg.Logger, OnAccess: h.cfg.OnAccess, Now: h.cfg.Now,
		Unavailable: func(cause error) error { return service.Unavailable(cause, "recording the request") },
		Classify:    func(err error) (string, bool) { return toAPIError(err).Code, service.ServerFault(err) },
		Actions: func(a string) bool {
			_, kms := actions[a]
			_, tag := tagActions[a]
			return kms || tag
		},
		Codes: knownCode,
	}.WithRefusals(wire.RefusalInterval)
}

// caller is who an authenticated request comes from, as the service's
// policies read it: the tag service's actions are CAM's tag:…, the rest
// kms:….
func (h *Handler) caller(r *http.Request, acc wire.Access) *service.Caller {
	action := "kms:" + acc.Action
	if tagService(r) {
		action = "tag:" + acc.Action
	}
	return service.NewCaller(acc, action, h.cfg.Region, h.cfg.AccountID, r.TLS != nil)
}

// tagService reports whether r is for Tencent Cloud's tag service.
func tagService(r *http.Request) bool { return r.Header.Get("X-TC-Version") == TagAPIVersion }

func (h *Handler) dispatch(ctx context.Context, r *http.Request, action string, body []byte) (withRequestID, error) {
	table := actions
	if tagService(r) {
		table = tagActions
	}
	act, ok := table[action]
	if !ok {
		return nil, unknownAction(action)
	}
	return act(ctx, h, body)
}

// admit authenticates a request, then applies the SecretId's rate limit.
// TC3 has no nonce, and the official SDKs sign only content-type and host,
// to the second: two actions with one body in one second carry one
// signature (Terraform's provider sends DisableKey then DescribeKey so, on
// connections of its own choosing), and Tencent Cloud accepts both. So
// does Keyport by default; what keeps a captured request from being sent
// again, as the same action or another, is that none can be captured: plain
// HTTP is served on loopback only. StrictSignatures refuses signatures that
// leave the action out, for clients that sign X-TC-Action.
func (h *Handler) admit(ctx context.Context, r *http.Request, body []byte, addr string) (secretID string, authed bool, err error) {
	a, err := h.authenticate(ctx, r, body, addr)
	if err != nil {
		if err != errBlocked && !service.ServerFault(err) {
			id := a.SecretID
			if !wire.ValidAccessKeyID(id) {
				id = "" // a malformed claim counts against the address alone
			}
			h.cfg.Guard.Failed(addr, id)
		}
		return a.SecretID, false, err
	}
	if !h.cfg.Limiter.Allow(a.SecretID) {
		return a.SecretID, true, errThrottled
	}
	return a.SecretID, true, nil
}

// authenticate checks the TC3 signature and returns the parsed
// Authorization. The credential scope's date and service are taken as the
// client signed them (some SDKs derive the service from the endpoint's
// first label), and the host is accepted signed with or without its port.
// Where X-TC-Action is among the signed headers, the signature covers it.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, body []byte, addr string) (sign.TC3, error) {
	if v := r.Header.Get("X-TC-Version"); v != APIVersion && v != TagAPIVersion {
		return sign.TC3{}, &apiError{"NoSuchVersion", "Keyport serves KMS API version " + APIVersion + " and tag API version " + TagAPIVersion}
	}
	if r.Header.Get("X-TC-Action") == "" {
		return sign.TC3{}, missingParameter("X-TC-Action")
	}
	a, err := sign.ParseTC3(r.Header.Get("Authorization"))
	if err != nil {
		return a, &apiError{"AuthFailure.InvalidAuthorization", "the Authorization header is not TC3-HMAC-SHA256"}
	}
	if strings.EqualFold(r.Header.Get("X-TC-Content-SHA256"), "UNSIGNED-PAYLOAD") {
		return a, errUnsigned
	}
	stamp := r.Header.Get("X-TC-Timestamp")
	sec, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil || time.Unix(sec, 0).Sub(h.cfg.Now()).Abs() > Skew {
		return a, errExpired
	}
	if a.Date != time.Unix(sec, 0).UTC().Format("2006-01-02") {
		return a, &apiError{"AuthFailure.SignatureFailure", "the credential scope's date is not X-TC-Timestamp's"}
	}
	if !a.Signs("host") {
		return a, &apiError{"AuthFailure.SignatureFailure", "SignedHeaders must include host"}
	}
	if h.cfg.StrictSignatures && !a.Signs("x-tc-action") {
		return a, errActionUnsigned
	}
	if !wire.ValidAccessKeyID(a.SecretID) {
		return a, &apiError{"AuthFailure.SecretIdNotFound", "the SecretId is not of the form access key ids take"}
	}
	if h.cfg.Guard.Blocked(addr, a.SecretID) {
		return a, errBlocked
	}
	secret, err := h.cfg.Service.AccessKeySecret(ctx, a.SecretID)
	if err != nil {
		return a, err
	}
	defer clear(secret)
	hosts := []string{r.Host}
	if name, _, err := net.SplitHostPort(r.Host); err == nil {
		hosts = append(hosts, name)
	}
	for _, host := range hosts {
		want := sign.TC3Signature(secret, a, sign.TC3StringToSign(r, a, host, stamp, body))
		if hmac.Equal([]byte(want), []byte(a.Signature)) {
			return a, nil
		}
	}
	return a, errSignature
}

// decode reads a JSON body into v; a type error names the field.
func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			return invalidParameter(te.Field, "wrong type")
		}
		return errNotJSON
	}
	return nil
}

// keyID checks that a required KeyId is present and shaped like one.
func keyID(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", missingParameter("KeyId")
	}
	if !looksLikeKeyID(*p) {
		return "", errInvalidKeyID
	}
	return *p, nil
}

// looksLikeKeyID accepts the UUID form key ids take.
func looksLikeKeyID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return true
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func required(name string, p *string) (string, error) {
	if p == nil || *p == "" {
		return "", missingParameter(name)
	}
	return *p, nil
}

func unix(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.Unix())
}

// recipient is the service's Recipient for EncryptionPublicKey and
// EncryptionAlgorithm, or nil when neither is given.
func recipient(publicKey, algorithm *string) *service.Recipient {
	if str(publicKey) == "" && str(algorithm) == "" {
		return nil
	}
	return &service.Recipient{PublicKey: str(publicKey), Algorithm: str(algorithm)}
}
