package tencent

import "context"

type describeKeyResponse struct {
	base
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

func describeKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req keyRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	md, err := h.cfg.Service.DescribeKey(ctx, id)
	if err != nil {
		return nil, err
	}
	return &describeKeyResponse{KeyMetadata: h.metadata(md)}, nil
}
