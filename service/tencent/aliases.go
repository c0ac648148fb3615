package tencent

import (
	"context"
)

type updateAliasRequest struct {
	KeyId *string
	Alias *string
}

func updateAlias(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req updateAliasRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	alias, err := required("Alias", req.Alias)
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.SetDisplayAlias(ctx, id, alias)
}
