package aliyun

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type keyMetadataResponse struct {
	base
	KeyMetadata keyMetadata `json:"KeyMetadata" xml:"KeyMetadata"`
}

// createKey takes Tags, EnableAutomaticRotation and RotationInterval as
// well as the key's kind, and a key Policy.
func createKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	tags, err := p.jsonTags()
	if err != nil {
		return nil, err
	}
	rotate, err := p.boolean("EnableAutomaticRotation", false)
	if err != nil {
		return nil, err
	}
	interval, err := p.interval("RotationInterval")
	if err != nil {
		return nil, err
	}
	md, err := h.cfg.Service.CreateKey(ctx, service.CreateKeyRequest{
		Spec: service.KeySpec(p["KeySpec"]), Usage: service.KeyUsage(p["KeyUsage"]), Origin: service.Origin(p["Origin"]),
		Protection: service.ProtectionLevel(p["ProtectionLevel"]), Description: p["Description"],
		Tags: tags, AutoRotate: rotate, RotationInterval: interval, Policy: p["Policy"],
	})
	if err != nil {
		return nil, err
	}
	return &keyMetadataResponse{KeyMetadata: h.metadata(md)}, nil
}
