package aliyun

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type generateDataKeyResponse struct {
	base
	KeyId          string `json:"KeyId" xml:"KeyId"`
	KeyVersionId   string `json:"KeyVersionId" xml:"KeyVersionId"`
	Plaintext      string `json:"Plaintext" xml:"Plaintext"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
}

func generateDataKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	n, err := p.integer("NumberOfBytes")
	if err != nil {
		return nil, err
	}
	ec, err := p.encryptionContext()
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.GenerateDataKey(ctx, service.GenerateDataKeyRequest{KeyID: id, KeySpec: p["KeySpec"], NumberOfBytes: n, Context: ec})
	if err != nil {
		return nil, err
	}
	return &generateDataKeyResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID,
		Plaintext: base64.StdEncoding.EncodeToString(res.Plaintext), CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob)}, nil
}
