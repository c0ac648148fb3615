package tencent

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type getParametersForImportRequest struct {
	KeyId             *string
	WrappingAlgorithm *string
	WrappingKeySpec   *string
}

type getParametersForImportResponse struct {
	base
	KeyId             string `json:"KeyId"`
	ImportToken       string `json:"ImportToken"`
	PublicKey         string `json:"PublicKey"`
	ParametersValidTo uint64 `json:"ParametersValidTo"`
}

func getParametersForImport(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req getParametersForImportRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	alg, err := required("WrappingAlgorithm", req.WrappingAlgorithm)
	if err != nil {
		return nil, err
	}
	spec, err := required("WrappingKeySpec", req.WrappingKeySpec)
	if err != nil {
		return nil, err
	}
	res, err := h.cfg.Service.GetParametersForImport(ctx, service.GetParametersForImportRequest{
		KeyID: id, Spec: service.WrappingKeySpec(spec), Algorithm: service.WrappingAlgorithm(alg),
	})
	if err != nil {
		return nil, err
	}
	return &getParametersForImportResponse{KeyId: res.KeyID, ImportToken: res.ImportToken,
		PublicKey: base64.StdEncoding.EncodeToString(res.PublicKey), ParametersValidTo: unix(res.Expires)}, nil
}
