package aliyun

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/keyport-kms/keyport/service"
)

// Actions that change what a key is called, says or allows, rather than
// its state or material.

func updateKeyDescription(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.UpdateKeyDescription(ctx, id, p["Description"])
}

// setDeletionProtection names the key by ProtectedResourceArn, as the SDK
// does, or by KeyId, as the Terraform provider does.
func setDeletionProtection(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id := p["KeyId"]
	if arn := p["ProtectedResourceArn"]; arn != "" {
		_, after, ok := strings.Cut(arn, ":key/")
		if !ok || after == "" {
			return nil, invalidParameter("ProtectedResourceArn", "not a key ARN")
		}
		id = after
	}
	if id == "" {
		return nil, missingParameter("ProtectedResourceArn")
	}
	on, err := p.boolean("EnableDeletionProtection", true)
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.SetDeletionProtection(ctx, id, on, p["DeletionProtectionDescription"])
}

func setKeyPolicy(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	policy, err := p.required("Policy")
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.SetKeyPolicy(ctx, id, policy)
}

type getKeyPolicyResponse struct {
	base
	Policy string `json:"Policy" xml:"Policy"`
}

func getKeyPolicy(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	policy, err := h.cfg.Service.KeyPolicy(ctx, id)
	if err != nil {
		return nil, err
	}
	if policy == "" {
		policy = service.DefaultKeyPolicy(h.cfg.AccountID)
	}
	return &getKeyPolicyResponse{Policy: policy}, nil
}

func updateRotationPolicy(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	on, err := p.boolean("EnableAutomaticRotation", true)
	if err != nil {
		return nil, err
	}
	interval, err := p.interval("RotationInterval")
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.SetRotationPolicy(ctx, id, on, interval)
}

// boolean reads "true" or "false"; required says whether it may be absent
// (then false).
func (p params) boolean(name string, required bool) (bool, error) {
	v := p[name]
	if v == "" && !required {
		return false, nil
	}
	if v == "" {
		return false, missingParameter(name)
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidParameter(name, "not true or false")
	}
	return b, nil
}

// interval reads a rotation interval: seconds with an s ("604800s"), or
// days with a d ("7d"); absent is zero.
func (p params) interval(name string) (time.Duration, error) {
	v := p[name]
	if v == "" {
		return 0, nil
	}
	unit := time.Second
	switch {
	case strings.HasSuffix(v, "s"):
	case strings.HasSuffix(v, "d"):
		unit = 24 * time.Hour
	default:
		return 0, invalidParameter(name, "a number of seconds ending in s, or of days ending in d")
	}
	n, err := strconv.ParseInt(v[:len(v)-1], 10, 32)
	if err != nil || n <= 0 || time.Duration(n) > 100*365*24*time.Hour/unit { // beyond a century: refused, and no overflow
		return 0, invalidParameter(name, "a positive number of seconds ending in s, or of days ending in d")
	}
	return time.Duration(n) * unit, nil
}

// intervalString is how DescribeKey shows an interval: seconds, with an s.
func intervalString(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}
