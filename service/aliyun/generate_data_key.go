package aliyun

import (
	"context"
	"encoding/base64"
)

type generateDataKeyResponse struct {
	base
	KeyId          string `json:"KeyId" xml:"KeyId"`
	KeyVersionId   string `json:"KeyVersionId" xml:"KeyVersionId"`
	Plaintext      string `json:"Plaintext" xml:"Plaintext"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
}

func generateDataKey(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	res, err := h.generate(ctx, p)
	if err != nil {
		return nil, err
	}
	return &generateDataKeyResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID,
		Plaintext: base64.StdEncoding.EncodeToString(res.Plaintext), CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob)}, nil
}
