package aliyun

import "context"

func describeKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	md, err := h.cfg.Service.DescribeKey(ctx, id)
	if err != nil {
		return nil, err
	}
	return &keyMetadataResponse{KeyMetadata: h.metadata(md)}, nil
}
