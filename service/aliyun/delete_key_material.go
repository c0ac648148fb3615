package aliyun

import "context"

func deleteKeyMaterial(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.DeleteKeyMaterial(ctx, id)
}
