package tencent

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type generateDataKeyRequest struct {
	KeyId               *string
	KeySpec             *string
	NumberOfBytes       *uint64
	EncryptionContext   *string
	EncryptionPublicKey *string // return Plaintext encrypted to this key (PEM)
	EncryptionAlgorithm *string
}

type generateDataKeyResponse struct {
	base
	KeyId          string `json:"KeyId"`
	Plaintext      string `json:"Plaintext"`
	CiphertextBlob string `json:"CiphertextBlob"`
}

func generateDataKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req generateDataKeyRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	ec, err := encryptionContext("EncryptionContext", req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	n := 0
	if req.NumberOfBytes != nil {
		if *req.NumberOfBytes == 0 || *req.NumberOfBytes > service.MaxDataKeyBytes {
			return nil, invalidParameter("NumberOfBytes", "from 1 to 1024")
		}
		n = int(*req.NumberOfBytes)
	}
	res, err := h.cfg.Service.GenerateDataKey(ctx, service.GenerateDataKeyRequest{KeyID: id, KeySpec: str(req.KeySpec), NumberOfBytes: n, Context: ec,
		Recipient: recipient(req.EncryptionPublicKey, req.EncryptionAlgorithm)})
	if err != nil {
		return nil, err
	}
	return &generateDataKeyResponse{KeyId: res.KeyID, Plaintext: base64.StdEncoding.EncodeToString(res.Plaintext),
		CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob)}, nil
}
