package tencent

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type keyIDsRequest struct {
	KeyIds []*string
}

// keyIDs reads KeyIds: 1 to 100 key ids.
func keyIDs(body []byte) ([]string, error) {
	var req keyIDsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if len(req.KeyIds) == 0 || len(req.KeyIds) > 100 {
		return nil, invalidParameter("KeyIds", "1 to 100 key ids")
	}
	out := make([]string, 0, len(req.KeyIds))
	for _, p := range req.KeyIds {
		id, err := keyID(p)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// enableKeys and disableKeys check every key before changing any, so a
// bad id in the batch changes nothing.
func enableKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return h.each(ctx, body, h.cfg.Service.EnableKey)
}

func disableKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return h.each(ctx, body, h.cfg.Service.DisableKey)
}

func (h *Handler) each(ctx context.Context, body []byte, fn func(context.Context, string) error) (withRequestID, error) {
	ids, err := keyIDs(body)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := h.cfg.Service.DescribeKey(ctx, id); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		if err := fn(ctx, id); err != nil {
			return nil, err
		}
	}
	return &empty{}, nil
}

type keyMetadatasResponse struct {
	base
	KeyMetadatas []keyMetadata `json:"KeyMetadatas"`
	TotalCount   uint64        `json:"TotalCount"`
}

func describeKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	ids, err := keyIDs(body)
	if err != nil {
		return nil, err
	}
	out := &keyMetadatasResponse{KeyMetadatas: []keyMetadata{}}
	for _, id := range ids {
		md, err := h.cfg.Service.DescribeKey(ctx, id)
		if service.KindOf(err) == service.KindNotFound {
			continue // as Tencent Cloud does: missing ids are left out
		}
		if err != nil {
			return nil, err
		}
		out.KeyMetadatas = append(out.KeyMetadatas, h.metadata(md))
	}
	out.TotalCount = uint64(len(out.KeyMetadatas))
	return out, nil
}
