package tencent

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/keyport-kms/keyport/service"
)

type importKeyMaterialRequest struct {
	EncryptedKeyMaterial *string
	ImportToken          *string
	KeyId                *string
	ValidTo              *uint64
}

func importKeyMaterial(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req importKeyMaterialRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	token, err := required("ImportToken", req.ImportToken)
	if err != nil {
		return nil, err
	}
	enc, err := required("EncryptedKeyMaterial", req.EncryptedKeyMaterial)
	if err != nil {
		return nil, err
	}
	material, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, invalidParameter("EncryptedKeyMaterial", "not valid base64")
	}
	// Tencent Cloud imports only into a key that is not Disabled.
	if md, err := h.cfg.Service.DescribeKey(ctx, id); err != nil {
		return nil, err
	} else if md.State == service.StateDisabled {
		return nil, &apiError{"ResourceUnavailable.CmkDisabled", "the key is disabled; enable it before importing material"}
	}
	in := service.ImportKeyMaterialRequest{KeyID: id, ImportToken: token, EncryptedMaterial: material}
	if req.ValidTo != nil && *req.ValidTo > 0 { // 0: never expires
		if *req.ValidTo > 1<<40 {
			return nil, invalidParameter("ValidTo", "not a Unix time in seconds")
		}
		in.MaterialExpires = time.Unix(int64(*req.ValidTo), 0)
	}
	return &empty{}, h.cfg.Service.ImportKeyMaterial(ctx, in)
}
