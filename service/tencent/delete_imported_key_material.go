package tencent

import "context"

func deleteImportedKeyMaterial(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return withKey(body, func(id string) error { return h.cfg.Service.DeleteKeyMaterial(ctx, id) })
}
