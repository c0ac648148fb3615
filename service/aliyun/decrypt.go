package aliyun

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type decryptResponse struct {
	base
	KeyId        string `json:"KeyId" xml:"KeyId"`
	KeyVersionId string `json:"KeyVersionId" xml:"KeyVersionId"`
	Plaintext    string `json:"Plaintext" xml:"Plaintext"`
}

func decrypt(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	blob, err := p.base64("CiphertextBlob")
	if err != nil {
		return nil, err
	}
	ec, err := p.encryptionContext("EncryptionContext")
	if err != nil {
		return nil, err
	}
	if dry, err := p.dryRun(func() error { return h.cfg.Service.CheckDecrypt(ctx, blob, true) }); dry {
		return nil, err
	}
	res, err := h.cfg.Service.Decrypt(ctx, service.DecryptRequest{CiphertextBlob: blob, Context: ec, ArchivedIsDisabled: true})
	if err != nil {
		return nil, err
	}
	return &decryptResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID, Plaintext: base64.StdEncoding.EncodeToString(res.Plaintext)}, nil
}
