package tencent

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type listKeysRequest struct {
	Offset *uint64
	Limit  *uint64
	Role   *uint64
}

type listKeysResponse struct {
	base
	Keys       []keyRef `json:"Keys"`
	TotalCount uint64   `json:"TotalCount"`
}

type keyRef struct {
	KeyId string `json:"KeyId"`
}

func listKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req listKeysRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit := 10
	if req.Limit != nil {
		if *req.Limit == 0 || *req.Limit > service.MaxPageSize {
			return nil, invalidParameter("Limit", "from 1 to 200")
		}
		limit = int(*req.Limit)
	}
	offset := 0
	if req.Offset != nil {
		if *req.Offset > 1<<31 {
			return nil, invalidParameter("Offset", "too large")
		}
		offset = int(*req.Offset)
	}
	// Role as ListKeyDetail takes it: 1, keys other cloud products made,
	// lists none.
	role, err := roleFilter.selector(&listKeyDetailRequest{Role: req.Role})
	if err != nil {
		return nil, err
	}
	if !role(&service.KeyMetadata{}) {
		return &listKeysResponse{Keys: []keyRef{}}, nil
	}
	res, err := h.cfg.Service.ListKeys(ctx, service.ListKeysRequest{PageSize: limit, Offset: offset})
	if err != nil {
		return nil, err
	}
	out := &listKeysResponse{TotalCount: uint64(res.TotalCount), Keys: []keyRef{}}
	for _, k := range res.Keys {
		out.Keys = append(out.Keys, keyRef{KeyId: k.KeyID})
	}
	return out, nil
}
