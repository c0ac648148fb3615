package aliyun

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type listKeysResponse struct {
	base
	Keys struct {
		Key []keyRef `json:"Key" xml:"Key"`
	} `json:"Keys" xml:"Keys"`
	TotalCount int `json:"TotalCount" xml:"TotalCount"`
	PageNumber int `json:"PageNumber" xml:"PageNumber"`
	PageSize   int `json:"PageSize" xml:"PageSize"`
}

type keyRef struct {
	KeyId  string `json:"KeyId" xml:"KeyId"`
	KeyArn string `json:"KeyArn" xml:"KeyArn"`
}

func listKeys(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	page, err := p.integer("PageNumber")
	if err != nil {
		return nil, err
	}
	size, err := p.integer("PageSize")
	if err != nil {
		return nil, err
	}
	if size > 100 {
		return nil, invalidParameter("PageSize", "at most 100")
	}
	res, err := h.cfg.Service.ListKeys(ctx, service.ListKeysRequest{PageNumber: page, PageSize: size})
	if err != nil {
		return nil, err
	}
	out := &listKeysResponse{TotalCount: res.TotalCount, PageNumber: res.PageNumber, PageSize: res.PageSize}
	out.Keys.Key = []keyRef{}
	for _, k := range res.Keys {
		out.Keys.Key = append(out.Keys.Key, keyRef{KeyId: k.KeyID, KeyArn: h.arn(k.KeyID)})
	}
	return out, nil
}
