package aliyun

import "context"

func enableKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.EnableKey(ctx, id)
}
