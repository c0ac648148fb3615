package tencent

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type reEncryptRequest struct {
	CiphertextBlob               *string
	DestinationKeyId             *string
	SourceEncryptionContext      *string
	DestinationEncryptionContext *string
}

type reEncryptResponse struct {
	base
	CiphertextBlob string `json:"CiphertextBlob"`
	KeyId          string `json:"KeyId"`
	SourceKeyId    string `json:"SourceKeyId"`
	ReEncrypted    bool   `json:"ReEncrypted"`
}

// reEncrypt: without DestinationKeyId the ciphertext moves to its own
// key's primary version (after a rotation), as Tencent Cloud does.
func reEncrypt(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req reEncryptRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	blob, err := base64Param("CiphertextBlob", req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	src, err := encryptionContext("SourceEncryptionContext", req.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	dst, err := encryptionContext("DestinationEncryptionContext", req.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	dest := str(req.DestinationKeyId) // empty: the source key, which the service finds in the blob
	if dest != "" && !looksLikeKeyID(dest) {
		return nil, errInvalidKeyID
	}
	res, err := h.cfg.Service.ReEncrypt(ctx, service.ReEncryptRequest{CiphertextBlob: blob, SourceContext: src, DestinationKeyID: dest, DestinationContext: dst})
	if err != nil {
		return nil, err
	}
	return &reEncryptResponse{CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob), KeyId: res.KeyID,
		SourceKeyId: res.SourceKeyID, ReEncrypted: true}, nil
}
