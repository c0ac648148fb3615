package aliyun

import (
	"context"
	"encoding/base64"

	"github.com/keyport-kms/keyport/service"
)

type getParametersForImportResponse struct {
	base
	KeyId           string `json:"KeyId" xml:"KeyId"`
	ImportToken     string `json:"ImportToken" xml:"ImportToken"`
	PublicKey       string `json:"PublicKey" xml:"PublicKey"`
	TokenExpireTime string `json:"TokenExpireTime" xml:"TokenExpireTime"`
}

func getParametersForImport(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	var fields [3]string
	for i, name := range []string{"KeyId", "WrappingKeySpec", "WrappingAlgorithm"} {
		v, err := p.required(name)
		if err != nil {
			return nil, err
		}
		fields[i] = v
	}
	res, err := h.cfg.Service.GetParametersForImport(ctx, service.GetParametersForImportRequest{
		KeyID: fields[0], Spec: service.WrappingKeySpec(fields[1]), Algorithm: service.WrappingAlgorithm(fields[2]),
	})
	if err != nil {
		return nil, err
	}
	return &getParametersForImportResponse{
		KeyId: res.KeyID, ImportToken: res.ImportToken, PublicKey: base64.StdEncoding.EncodeToString(res.PublicKey),
		TokenExpireTime: timeString(res.Expires),
	}, nil
}
