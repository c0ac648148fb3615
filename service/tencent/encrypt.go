package tencent

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
	"github.com/keyport-kms/keyport/service/wire"
)

type encryptRequest struct {
	KeyId             *string
	Plaintext         *string
	EncryptionContext *string
}

type encryptResponse struct {
	base
	KeyId          string `json:"KeyId"`
	CiphertextBlob string `json:"CiphertextBlob"`
}

func encrypt(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req encryptRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	pt, err := base64Param("Plaintext", req.Plaintext)
	if err != nil {
		return nil, err
	}
	ec, err := encryptionContext("EncryptionContext", req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if len(pt) > MaxPlaintext {
		return nil, &apiError{"InvalidParameterValue.InvalidPlaintext", "Plaintext must be at most 4096 bytes"}
	}
	res, err := h.cfg.Service.Encrypt(ctx, service.EncryptRequest{KeyID: id, Plaintext: pt, Context: ec})
	if err != nil {
		return nil, err
	}
	return &encryptResponse{KeyId: res.KeyID, CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob)}, nil
}

func base64Param(name string, p *string) ([]byte, error) {
	v, err := required(name, p)
	if err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, invalidParameter(name, "not valid base64")
	}
	return b, nil
}

// encryptionContext reads an optional JSON-object-as-a-string parameter:
// its name (EncryptionContext, or ReEncrypt's Source… and Destination…)
// and value.
func encryptionContext(name string, p *string) (map[string]string, error) {
	ec, err := wire.EncryptionContext(str(p))
	if err != nil {
		return nil, invalidParameter(name, err.Error())
	}
	return ec, nil
}
