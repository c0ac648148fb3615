package aliyun

import (
	"cmp"
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

// errDryRun is how a request with DryRun=true that would succeed is
// answered, as Alibaba Cloud answers dry runs.
var errDryRun = &apiError{Status: 400, Code: "DryRunOperation", Message: "the request would have succeeded; DryRun was set, so nothing was done"}

// dryRun runs check when DryRun is true, and reports whether it did.
func (p params) dryRun(check func() error) (bool, error) {
	dry, err := p.boolean("DryRun", false)
	if err != nil || !dry {
		return false, err
	}
	if err := check(); err != nil {
		return true, err
	}
	return true, errDryRun
}

type generateDataKeyWithoutPlaintextResponse struct {
	base
	KeyId          string `json:"KeyId" xml:"KeyId"`
	KeyVersionId   string `json:"KeyVersionId" xml:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob" xml:"CiphertextBlob"`
}

func generateDataKeyWithoutPlaintext(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	res, err := h.generate(ctx, p)
	if err != nil {
		return nil, err
	}
	clear(res.Plaintext)
	return &generateDataKeyWithoutPlaintextResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID,
		CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob)}, nil
}

// generate is GenerateDataKey's request, shared by both actions.
func (h *Handler) generate(ctx context.Context, p params) (*service.GenerateDataKeyResponse, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	n, err := p.integer("NumberOfBytes")
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
	return h.cfg.Service.GenerateDataKey(ctx, service.GenerateDataKeyRequest{KeyID: id, KeySpec: p["KeySpec"], NumberOfBytes: n, Context: ec})
}

type reEncryptResponse struct {
	base
	KeyId              string `json:"KeyId" xml:"KeyId"`
	KeyVersionId       string `json:"KeyVersionId" xml:"KeyVersionId"`
	CiphertextBlob     string `json:"CiphertextBlob" xml:"CiphertextBlob"`
	SourceKeyId        string `json:"SourceKeyId" xml:"SourceKeyId"`
	SourceKeyVersionId string `json:"SourceKeyVersionId" xml:"SourceKeyVersionId"`
}

// reEncrypt moves a symmetric ciphertext to another key; the asymmetric
// sources (SourceKeyId with SourceEncryptionAlgorithm) do not exist here.
func reEncrypt(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	blob, err := p.base64("CiphertextBlob")
	if err != nil {
		return nil, err
	}
	dest, err := p.required("DestinationKeyId")
	if err != nil {
		return nil, err
	}
	if p["SourceEncryptionAlgorithm"] != "" {
		return nil, invalidParameter("SourceEncryptionAlgorithm", "Keyport has no asymmetric keys")
	}
	src, err := p.encryptionContext("SourceEncryptionContext")
	if err != nil {
		return nil, err
	}
	dst, err := p.encryptionContext("DestinationEncryptionContext")
	if err != nil {
		return nil, err
	}
	if dry, err := p.dryRun(func() error {
		return cmp.Or(h.cfg.Service.CheckDecrypt(ctx, blob, true), h.cfg.Service.CheckEncrypt(ctx, dest)) // the first refusal
	}); dry {
		return nil, err
	}
	res, err := h.cfg.Service.ReEncrypt(ctx, service.ReEncryptRequest{CiphertextBlob: blob, SourceContext: src, DestinationKeyID: dest, DestinationContext: dst, ArchivedIsDisabled: true})
	if err != nil {
		return nil, err
	}
	return &reEncryptResponse{KeyId: res.KeyID, KeyVersionId: res.KeyVersionID, CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob),
		SourceKeyId: res.SourceKeyID, SourceKeyVersionId: res.SourceKeyVersionID}, nil
}
