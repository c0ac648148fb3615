package aliyun

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type encryptResponse struct {
	base
	KeyId          string `json:"KeyId" xml:"KeyId"`
	KeyVersionId   string `json:"KeyVersionId" xml:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
}

func encrypt(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	pt, err := p.base64("Plaintext")
	if err != nil {
		return nil, err
	}
	ec, err := p.encryptionContext("EncryptionContext")
	if err != nil {
		return nil, err
	}
	if dry, err := p.dryRun(func() error { return h.cfg.Service.CheckEncrypt(ctx, id) }); dry {
		return nil, err
	}
	res, err := h.cfg.Service.Encrypt(ctx, service.EncryptRequest{KeyID: id, Plaintext: pt, Context: ec})
	if err != nil {
		return nil, err
	}
	return &encryptResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID, CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob)}, nil
}
