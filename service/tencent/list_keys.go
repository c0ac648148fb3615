package tencent

import (
	"context"
	"slices"

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

type listKeyDetailRequest struct {
	Offset         *uint64
	Limit          *uint64
	Role           *uint64
	OrderType      *uint64
	KeyState       *uint64
	SearchKeyAlias *string
	Origin         *string
	KeyUsage       *string
	HsmClusterId   *string
	TagFilters     []struct {
		TagKey   *string
		TagValue []*string
	}
}

// listKeyDetail filters the whole key set, then pages: newest first unless
// OrderType is 1.
func listKeyDetail(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req listKeyDetailRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit, offset := 10, 0
	if req.Limit != nil {
		if *req.Limit == 0 || *req.Limit > service.MaxPageSize {
			return nil, invalidParameter("Limit", "from 1 to 200")
		}
		limit = int(*req.Limit)
	}
	if req.Offset != nil {
		if *req.Offset > 1<<31 {
			return nil, invalidParameter("Offset", "too large")
		}
		offset = int(*req.Offset)
	}
	if req.OrderType != nil && *req.OrderType > 1 {
		return nil, invalidParameter("OrderType", "0 (newest first) or 1 (oldest first)")
	}
	keep, err := detailSelector(&req, detailFilters)
	if err != nil {
		return nil, err
	}
	keys, err := h.cfg.Service.FindKeys(ctx, keep)
	if err != nil {
		return nil, err
	}
	all := make([]keyMetadata, 0, len(keys))
	for i := range keys {
		all = append(all, h.metadata(&keys[i]))
	}
	if req.OrderType == nil || *req.OrderType == 0 {
		slices.Reverse(all)
	}
	out := &keyMetadatasResponse{TotalCount: uint64(len(all)), KeyMetadatas: []keyMetadata{}}
	if offset < len(all) {
		out.KeyMetadatas = all[offset:min(len(all), offset+limit)]
	}
	return out, nil
}
