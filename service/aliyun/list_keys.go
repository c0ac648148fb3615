package aliyun

import (
	"context"
	"encoding/json"
	"slices"

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
	page, size, err := p.page()
	if err != nil {
		return nil, err
	}
	var res *service.ListKeysResponse
	if p["Filters"] != "" {
		res, err = h.filteredKeys(ctx, p["Filters"], page, size)
	} else {
		res, err = h.cfg.Service.ListKeys(ctx, service.ListKeysRequest{PageNumber: page, PageSize: size})
	}
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

type keyFilter struct {
	Key    string   `json:"Key"`
	Values []string `json:"Values"`
}

// filterFields are the fields Filters may name, as DescribeKey shows them.
var filterFields = map[string]func(m *service.KeyMetadata) string{
	"KeyState":        func(m *service.KeyMetadata) string { return stateName(m.State) },
	"KeySpec":         func(m *service.KeyMetadata) string { return string(m.Spec) },
	"KeyUsage":        func(m *service.KeyMetadata) string { return string(m.Usage) },
	"ProtectionLevel": func(m *service.KeyMetadata) string { return string(m.Protection) },
	"CreatorType":     func(*service.KeyMetadata) string { return "User" },
}

// filteredKeys pages through the keys the filters keep (each filter one of
// its values; all filters at once). Filtering reads the whole key set;
// ListKeys without Filters reads one page.
func (h *Handler) filteredKeys(ctx context.Context, raw string, page, size int) (*service.ListKeysResponse, error) {
	var filters []keyFilter
	if err := json.Unmarshal([]byte(raw), &filters); err != nil {
		return nil, invalidParameter("Filters", `a JSON array of {"Key":…,"Values":[…]}`)
	}
	for _, f := range filters {
		if filterFields[f.Key] == nil || len(f.Values) == 0 {
			return nil, invalidParameter("Filters", "Key must be KeyState, KeySpec, KeyUsage, ProtectionLevel or CreatorType, with Values")
		}
	}
	keys, err := h.cfg.Service.FindKeys(ctx, func(m *service.KeyMetadata) bool {
		return !slices.ContainsFunc(filters, func(f keyFilter) bool { return !slices.Contains(f.Values, filterFields[f.Key](m)) })
	})
	if err != nil {
		return nil, err
	}
	return &service.ListKeysResponse{PageNumber: page, PageSize: size, TotalCount: len(keys), Keys: onPage(keys, page, size)}, nil
}
