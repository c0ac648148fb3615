package tencent

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/keyport-kms/keyport/service"
)

// tagActions are the actions of Tencent Cloud's tag service (version
// 2018-08-13) that the Terraform provider calls for KMS keys. Resources
// are keys only: ServiceType kms, ResourcePrefix key.
var tagActions = map[string]action{
	"DescribeResourceTagsByResourceIds": describeResourceTagsByResourceIDs,
	"ModifyResourceTags":                modifyResourceTags,
}

// keyOfResource takes the key id from a resource id (creatorUin/UIN/KEYID,
// or a bare key id) or from a whole resource name
// (qcs::kms:REGION:uin/ACCOUNT:key/creatorUin/UIN/KEYID).
func keyOfResource(r string) (string, error) {
	if i := strings.Index(r, ":key/"); i >= 0 {
		if !strings.HasPrefix(r, "qcs::kms:") {
			return "", invalidParameter("Resource", "not a KMS key's resource name")
		}
		r = r[i+len(":key/"):]
	}
	id := r[strings.LastIndex(r, "/")+1:]
	if !looksLikeKeyID(id) {
		return "", &apiError{"ResourceNotFound", "no KMS key named by " + r}
	}
	return id, nil
}

type modifyResourceTagsRequest struct {
	Resource    *string
	ReplaceTags []tagPair
	DeleteTags  []struct{ TagKey *string }
}

func modifyResourceTags(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req modifyResourceTagsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	res, err := required("Resource", req.Resource)
	if err != nil {
		return nil, err
	}
	id, err := keyOfResource(res)
	if err != nil {
		return nil, err
	}
	if len(req.ReplaceTags) == 0 && len(req.DeleteTags) == 0 {
		return nil, missingParameter("ReplaceTags")
	}
	var remove []string
	for _, t := range req.DeleteTags {
		remove = append(remove, str(t.TagKey))
	}
	return &empty{}, h.cfg.Service.UpdateTags(ctx, id, tagMap(req.ReplaceTags), remove)
}

type describeResourceTagsRequest struct {
	ServiceType    *string
	ResourcePrefix *string
	ResourceIds    []*string
	ResourceRegion *string
	Offset         *uint64
	Limit          *uint64
}

type resourceTag struct {
	TagKey      string `json:"TagKey"`
	TagValue    string `json:"TagValue"`
	ResourceId  string `json:"ResourceId"`
	ServiceType string `json:"ServiceType"`
}

type describeResourceTagsResponse struct {
	base
	TotalCount uint64        `json:"TotalCount"`
	Offset     uint64        `json:"Offset"`
	Limit      uint64        `json:"Limit"`
	Tags       []resourceTag `json:"Tags"`
}

// describeResourceTagsByResourceIDs lists the tags of the keys named, each
// with the ResourceId as the caller gave it (the provider matches on it).
// A key that does not exist has no tags.
func describeResourceTagsByResourceIDs(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req describeResourceTagsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if str(req.ServiceType) != "kms" || (str(req.ResourcePrefix) != "" && str(req.ResourcePrefix) != "key") {
		return nil, invalidParameter("ServiceType", "only kms keys are served (ServiceType kms, ResourcePrefix key)")
	}
	if len(req.ResourceIds) == 0 || len(req.ResourceIds) > 50 {
		return nil, invalidParameter("ResourceIds", "1 to 50 resource ids")
	}
	limit, offset := uint64(15), uint64(0)
	if req.Limit != nil {
		if *req.Limit == 0 || *req.Limit > 100 {
			return nil, invalidParameter("Limit", "from 1 to 100")
		}
		limit = *req.Limit
	}
	if req.Offset != nil {
		offset = *req.Offset
	}
	var all []resourceTag
	for _, p := range req.ResourceIds {
		id, err := keyOfResource(str(p))
		if err != nil {
			continue
		}
		md, err := h.cfg.Service.DescribeKey(ctx, id)
		if service.KindOf(err) == service.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, name := range slices.Sorted(maps.Keys(md.Tags)) {
			all = append(all, resourceTag{TagKey: name, TagValue: md.Tags[name], ResourceId: str(p), ServiceType: "kms"})
		}
	}
	out := &describeResourceTagsResponse{TotalCount: uint64(len(all)), Offset: offset, Limit: limit, Tags: []resourceTag{}}
	if offset < uint64(len(all)) {
		out.Tags = all[offset:min(uint64(len(all)), offset+limit)]
	}
	return out, nil
}
