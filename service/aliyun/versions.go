package aliyun

import (
	"context"
	"slices"

	"github.com/keyport-kms/keyport/service"
)

type keyVersion struct {
	KeyId        string `json:"KeyId" xml:"KeyId"`
	KeyVersionId string `json:"KeyVersionId" xml:"KeyVersionId"`
	CreationDate string `json:"CreationDate" xml:"CreationDate"`
}

func versionOf(v service.KeyVersionInfo) keyVersion {
	return keyVersion{KeyId: v.KeyID, KeyVersionId: v.KeyVersionID, CreationDate: timeString(v.Created)}
}

type keyVersionResponse struct {
	base
	KeyVersion keyVersion `json:"KeyVersion" xml:"KeyVersion"`
}

func createKeyVersion(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	v, err := h.cfg.Service.RotateKey(ctx, id)
	if err != nil {
		return nil, err
	}
	return &keyVersionResponse{KeyVersion: versionOf(*v)}, nil
}

func describeKeyVersion(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	vid, err := p.required("KeyVersionId")
	if err != nil {
		return nil, err
	}
	v, err := h.cfg.Service.DescribeKeyVersion(ctx, id, vid)
	if err != nil {
		return nil, err
	}
	return &keyVersionResponse{KeyVersion: versionOf(*v)}, nil
}

type listKeyVersionsResponse struct {
	base
	KeyVersions struct {
		KeyVersion []keyVersion `json:"KeyVersion" xml:"KeyVersion"`
	} `json:"KeyVersions" xml:"KeyVersions"`
	TotalCount int `json:"TotalCount" xml:"TotalCount"`
	PageNumber int `json:"PageNumber" xml:"PageNumber"`
	PageSize   int `json:"PageSize" xml:"PageSize"`
}

// listKeyVersions pages newest first, as Alibaba Cloud lists them.
func listKeyVersions(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	page, size, err := p.page()
	if err != nil {
		return nil, err
	}
	versions, err := h.cfg.Service.ListKeyVersions(ctx, id)
	if err != nil {
		return nil, err
	}
	slices.Reverse(versions)
	out := &listKeyVersionsResponse{TotalCount: len(versions), PageNumber: page, PageSize: size}
	out.KeyVersions.KeyVersion = []keyVersion{}
	for _, v := range onPage(versions, page, size) {
		out.KeyVersions.KeyVersion = append(out.KeyVersions.KeyVersion, versionOf(v))
	}
	return out, nil
}
