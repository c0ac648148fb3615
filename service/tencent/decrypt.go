package tencent

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type decryptRequest struct {
	CiphertextBlob      *string
	EncryptionContext   *string
	EncryptionPublicKey *string // return Plaintext encrypted to this key (PEM)
	EncryptionAlgorithm *string // SM2 (default), SM2_C1C3C2_ASN1, RSAES_PKCS1_V1_5, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256
}

type decryptResponse struct {
	base
	KeyId     string `json:"KeyId"`
	Plaintext string `json:"Plaintext"`
}

func decrypt(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req decryptRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	blob, err := base64Param("CiphertextBlob", req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	ec, err := encryptionContext("EncryptionContext", req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: blob, Context: ec,
		Recipient: recipient(req.EncryptionPublicKey, req.EncryptionAlgorithm)})
	if err != nil {
		return nil, err
	}
	return &decryptResponse{KeyId: res.KeyID, Plaintext: base64.StdEncoding.EncodeToString(res.Plaintext)}, nil
}
