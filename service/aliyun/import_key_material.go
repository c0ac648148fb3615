package aliyun

import (
	"context"
	"time"

	"github.com/keyport-kms/keyport/service"
)

func importKeyMaterial(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	token, err := p.required("ImportToken")
	if err != nil {
		return nil, err
	}
	material, err := p.base64("EncryptedKeyMaterial")
	if err != nil {
		return nil, err
	}
	expire, err := p.integer("KeyMaterialExpireUnix")
	if err != nil || expire < 0 {
		return nil, invalidParameter("KeyMaterialExpireUnix", "not a Unix time in seconds")
	}
	req := service.ImportKeyMaterialRequest{KeyID: id, ImportToken: token, EncryptedMaterial: material}
	if expire > 0 {
		req.MaterialExpires = time.Unix(int64(expire), 0)
	}
	return &empty{}, h.cfg.Service.ImportKeyMaterial(ctx, req)
}
