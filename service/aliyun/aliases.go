package aliyun

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

func createAlias(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	name, id, err := p.aliasAndKey()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.CreateAlias(ctx, name, id)
}

func updateAlias(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	name, id, err := p.aliasAndKey()
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.UpdateAlias(ctx, name, id)
}

func (p params) aliasAndKey() (name, keyID string, err error) {
	if name, err = p.required("AliasName"); err != nil {
		return "", "", err
	}
	keyID, err = p.required("KeyId")
	return name, keyID, err
}

func deleteAlias(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	name, err := p.required("AliasName")
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.DeleteAlias(ctx, name)
}

type aliasEntry struct {
	AliasName string `json:"AliasName" xml:"AliasName"`
	AliasArn  string `json:"AliasArn" xml:"AliasArn"`
	KeyId     string `json:"KeyId" xml:"KeyId"`
}

type listAliasesResponse struct {
	base
	Aliases struct {
		Alias []aliasEntry `json:"Alias" xml:"Alias"`
	} `json:"Aliases" xml:"Aliases"`
	TotalCount int `json:"TotalCount" xml:"TotalCount"`
	PageNumber int `json:"PageNumber" xml:"PageNumber"`
	PageSize   int `json:"PageSize" xml:"PageSize"`
}

func listAliases(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	return h.aliases(ctx, p, "")
}

func listAliasesByKeyID(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	return h.aliases(ctx, p, id)
}

func (h *Handler) aliases(ctx context.Context, p params, keyID string) (withRequestID, error) {
	page, size, err := p.page()
	if err != nil {
		return nil, err
	}
	all, err := h.cfg.Service.ListAliases(ctx, keyID)
	if err != nil {
		return nil, err
	}
	out := &listAliasesResponse{TotalCount: len(all), PageNumber: page, PageSize: size}
	out.Aliases.Alias = []aliasEntry{}
	for _, a := range onPage(all, page, size) {
		out.Aliases.Alias = append(out.Aliases.Alias, h.aliasEntry(a))
	}
	return out, nil
}

func (h *Handler) aliasEntry(a service.AliasInfo) aliasEntry {
	return aliasEntry{AliasName: a.Name, AliasArn: "acs:kms:" + h.cfg.Region + ":" + h.cfg.AccountID + ":" + a.Name, KeyId: a.KeyID}
}
