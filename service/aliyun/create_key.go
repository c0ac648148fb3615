package aliyun

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type keyMetadataResponse struct {
	base
	KeyMetadata keyMetadata `json:"KeyMetadata" xml:"KeyMetadata"`
}

func createKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	md, err := h.cfg.Service.CreateKey(ctx, service.CreateKeyRequest{
		Spec: service.KeySpec(p["KeySpec"]), Usage: service.KeyUsage(p["KeyUsage"]), Origin: service.Origin(p["Origin"]),
		Protection: service.ProtectionLevel(p["ProtectionLevel"]), Description: p["Description"],
	})
	if err != nil {
		return nil, err
	}
	return &keyMetadataResponse{KeyMetadata: h.metadata(md)}, nil
}
