// Package aliyun serves Alibaba Cloud KMS's API (version 2016-01-20) over
// the service: RPC signature v1 and ACS3-HMAC-SHA256, JSON or XML. It only
// translates requests, responses and errors; the rules are the service's.
package aliyun

import (
	"context"
	"crypto/hmac"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/ids"
	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/wire"
	"github.com/keyport-kms/keyport/sign"
)

// APIVersion is the only version served.
const APIVersion = "2016-01-20"

// MaxBody bounds a request body.
const MaxBody = 64 << 10

// Skew is the clock skew allowed for Timestamp and x-acs-date.
const Skew = 15 * time.Minute

// Config wires a Handler.
type Config struct {
	Service   *service.Service
	Region    string         // in ARNs; default "cn-hangzhou"
	AccountID string         // in ARNs and as Creator; default "1"
	Replays   wire.ReplayLog // signature nonces
	wire.Common
}

// Handler serves the Alibaba Cloud dialect.
type Handler struct {
	cfg Config
	rec wire.Recorder // audits, logs and counts each request before it is answered
}

// New makes a Handler. Limiter defaults to 100 requests a second, Replays
// to the 15-minute window with room for that rate, Guard to 5 failed
// authentications a second per address (bursts of 20).
func New(cfg Config) *Handler {
	cfg.Defaults()
	if cfg.Region == "" {
		cfg.Region = "cn-hangzhou"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "1"
	}
	if cfg.Replays == nil {
		cfg.Replays = wire.NewReplays(Skew, wire.MaxFor(cfg.Limiter.Rate(), Skew), cfg.Now)
	}
	h := &Handler{cfg: cfg}
	h.rec = h.recorder()
	return h
}

// IsACS3 tells an ACS3-signed request by its Authorization scheme (not by
// x-acs-action, which older clients send with a v1 signature too).
func IsACS3(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), sign.ACS3Scheme+" ")
}

// request is a parsed, not yet authenticated, request.
type request struct {
	r      *http.Request
	query  map[string]string // the query string alone (ACS3 signs it)
	params params            // query and form body together
	body   []byte
	acs3   bool
	xml    bool
	action string
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	reqID := ids.NewRequestID()
	w.Header().Set("x-acs-request-id", reqID)
	ctx, keys := wire.WithKeyLog(r.Context())
	acc := wire.Access{Dialect: "aliyun", RequestID: reqID, SourceIP: h.cfg.Proxies.Client(r.RemoteAddr, r.Header.Values)}
	var req *request
	var err error
	if h.cfg.Guard.BlockedAddress(acc.SourceIP) {
		// Refused: parsed only to answer in the format asked for; nothing
		// of it is looked up, and it is recorded only in a sum.
		req, _ = parse(w, r)
		err = errBlocked
	} else if req, err = parse(w, r); err != nil {
		h.cfg.Guard.Failed(acc.SourceIP, "") // malformed before any credential: a failed authentication
	}
	if err == nil {
		acc.AccessKeyID, acc.Authenticated, err = h.admit(ctx, req, acc.SourceIP)
	}
	if err == nil {
		err = h.rec.Ready(ctx)
	}
	var caller *service.Caller
	if err == nil {
		caller = h.caller(r, req.action, acc)
		ctx, err = h.cfg.Service.Authenticated(ctx, caller)
	}
	var out withRequestID
	if err == nil {
		act, ok := actions[req.action]
		if !ok {
			err = unknownAction(req.action)
		} else {
			out, err = act(ctx, h, req.params)
			err = caller.Checked(err)
		}
	}
	if caller != nil {
		acc.Decision = caller.Decision()
	}
	acc.Action, acc.KeyID, acc.Blocked, acc.Keys = req.action, req.params["KeyId"], err == errBlocked, keys()
	err = h.rec.Settle(ctx, acc, start, err)
	if err != nil {
		ae := toAPIError(err)
		write(w, ae.Status, req.xml, "Error", &errorBody{RequestID: reqID, HostID: r.Host, Code: ae.Code, Message: ae.Message,
			Recommend: "https://github.com/keyport-kms/keyport#errors"})
		return
	}
	out.setRequestID(reqID)
	write(w, http.StatusOK, req.xml, req.action+"Response", out)
}

// caller is who an authenticated request comes from, as the service's
// policies read it.
func (h *Handler) caller(r *http.Request, action string, acc wire.Access) *service.Caller {
	return service.NewCaller(acc, "kms:"+action, h.cfg.Region, h.cfg.AccountID, r.TLS != nil)
}

// recorder is made once, by New. Metric labels come from the action table
// and the error table only.
func (h *Handler) recorder() wire.Recorder {
	return wire.Recorder{Audit: h.cfg.Audit, Logger: h.cfg.Logger, OnAccess: h.cfg.OnAccess, Now: h.cfg.Now,
		Unavailable: func(cause error) error { return service.Unavailable(cause, "recording the request") },
		Classify: func(err error) (string, bool) {
			ae := toAPIError(err)
			return ae.Code, ae.Status >= 500
		},
		Actions: func(a string) bool { _, ok := actions[a]; return ok },
		Codes:   knownCode,
	}.WithRefusals(wire.RefusalInterval)
}

// parse reads parameters from the query and a form body, refusing a
// parameter given twice, and works out the action and response format.
func parse(w http.ResponseWriter, r *http.Request) (*request, error) {
	req := &request{r: r, acs3: IsACS3(r), query: map[string]string{}, params: params{}}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return req, errBodySize
	}
	req.body = body
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, invalidParameter("query string", "it is not URL-encoded")
	}
	for k, v := range q {
		if len(v) != 1 {
			return req, invalidParameter(k, "given more than once")
		}
		req.query[k], req.params[k] = v[0], v[0]
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && len(body) > 0 {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, invalidParameter("request body", "it is not URL-encoded")
		}
		for k, v := range form {
			if _, dup := req.params[k]; dup || len(v) != 1 {
				return req, invalidParameter(k, "given more than once")
			}
			req.params[k] = v[0]
		}
	}
	if req.acs3 {
		req.action = r.Header.Get("x-acs-action")
		if req.action == "" {
			return req, missingParameter("x-acs-action")
		}
		return req, nil
	}
	req.xml = !strings.EqualFold(req.params["Format"], "json") // the API's default is XML
	req.action = req.params["Action"]
	if req.action == "" {
		return req, missingParameter("Action")
	}
	return req, nil
}

// maxNonce bounds SignatureNonce: real clients send UUIDs or 32 hex digits.
const maxNonce = 128

// admit authenticates a request, then applies the access key's rate limit,
// and only then records its nonce, so that neither strangers nor a
// throttled client can grow the nonce table. An address that keeps failing
// is refused before any work is done for it. authed says whether the
// caller proved its credential (ak is then its own, not a claim).
func (h *Handler) admit(ctx context.Context, req *request, addr string) (ak string, authed bool, err error) {
	ak, nonce, err := h.authenticate(ctx, req, addr)
	if err != nil {
		if err != errBlocked && !service.ServerFault(err) {
			if !wire.ValidAccessKeyID(ak) {
				ak = "" // a malformed claim counts against the address alone
			}
			h.cfg.Guard.Failed(addr, ak)
		}
		return ak, false, err
	}
	if !h.cfg.Limiter.Allow(ak) {
		return ak, true, errThrottled
	}
	verdict, err := h.cfg.Replays.Check(ctx, ak, nonce)
	if err != nil {
		return ak, true, service.Unavailable(err, "checking the signature nonce")
	}
	switch verdict {
	case wire.Fresh:
		return ak, true, nil
	case wire.Full:
		return ak, true, errThrottled
	}
	return ak, true, errNonceUsed
}

// authenticate checks the signature, timestamp and version, and returns the
// access key id and the nonce.
func (h *Handler) authenticate(ctx context.Context, req *request, addr string) (ak, nonce string, err error) {
	var signature, stamp, version string
	var a sign.ACS3
	if req.acs3 {
		if a, err = sign.ParseACS3(req.r.Header.Get("Authorization")); err != nil {
			return "", "", errSignature
		}
		signed := map[string]bool{}
		for _, hd := range a.SignedHeaders {
			signed[strings.ToLower(hd)] = true
		}
		for _, must := range []string{"host", "x-acs-action", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"} {
			if !signed[must] {
				return a.Credential, "", &apiError{http.StatusBadRequest, "IncompleteSignature", "SignedHeaders must include " + must}
			}
		}
		ak, signature = a.Credential, a.Signature
		nonce, stamp, version = req.r.Header.Get("x-acs-signature-nonce"), req.r.Header.Get("x-acs-date"), req.r.Header.Get("x-acs-version")
	} else {
		for _, name := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "Version"} {
			if req.params[name] == "" {
				return req.params["AccessKeyId"], "", missingParameter(name)
			}
		}
		if req.params["SignatureMethod"] != "HMAC-SHA1" || req.params["SignatureVersion"] != "1.0" {
			return req.params["AccessKeyId"], "", invalidParameter("SignatureMethod", "only HMAC-SHA1, SignatureVersion 1.0, is accepted")
		}
		ak, signature = req.params["AccessKeyId"], req.params["Signature"]
		nonce, stamp, version = req.params["SignatureNonce"], req.params["Timestamp"], req.params["Version"]
	}
	switch {
	case !wire.ValidAccessKeyID(ak):
		return ak, "", &apiError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "the AccessKeyId is not of the form access key ids take"}
	case nonce == "":
		return ak, "", missingParameter("SignatureNonce")
	case len(nonce) > maxNonce:
		return ak, "", invalidParameter("SignatureNonce", "it is longer than 128 characters")
	}
	t, err := time.Parse(time.RFC3339, stamp)
	if err != nil || t.Sub(h.cfg.Now()).Abs() > Skew {
		return ak, "", errTimestamp
	}
	if version != APIVersion {
		return ak, "", &apiError{http.StatusBadRequest, "InvalidVersion", "Keyport serves KMS API version " + APIVersion}
	}
	if h.cfg.Guard.Blocked(addr, ak) {
		return ak, "", errBlocked
	}
	secret, err := h.cfg.Service.AccessKeySecret(ctx, ak)
	if err != nil {
		return ak, "", err
	}
	defer clear(secret)
	var want string
	if req.acs3 {
		want = sign.ACS3Signature(secret, sign.ACS3StringToSign(req.r, req.query, a.SignedHeaders, req.body))
	} else {
		want = sign.RPCSignature(secret, sign.RPCStringToSign(req.r.Method, req.params))
	}
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ak, "", errSignature
	}
	return ak, nonce, nil
}
