package tencent

import "context"

func disableKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return withKey(body, func(id string) error { return h.cfg.Service.DisableKey(ctx, id) })
}
