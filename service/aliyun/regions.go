package aliyun

import "context"

type regionsResponse struct {
	base
	Regions struct {
		Region []region `json:"Region" xml:"Region"`
	} `json:"Regions" xml:"Regions"`
}

type region struct {
	RegionId string `json:"RegionId" xml:"RegionId"`
}

// describeRegions lists the one region this Keyport serves (--region): the
// aliyun CLI and SDK tooling ask before anything else.
func describeRegions(ctx context.Context, h *Handler, _ params) (withRequestID, error) {
	if err := h.cfg.Service.Authorize(ctx); err != nil {
		return nil, err
	}
	out := &regionsResponse{}
	out.Regions.Region = []region{{RegionId: h.cfg.Region}}
	return out, nil
}
