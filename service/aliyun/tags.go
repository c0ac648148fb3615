package aliyun

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// Tags: the newer TagResources family (ResourceId.N, Tag.N.Key), which the
// Terraform provider calls, and the older TagResource family (KeyId, Tags
// as a JSON array).

// indexed reads name.1, name.2, … up to the first gap.
func (p params) indexed(name string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[name+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// resourceIDs reads the ResourceId.N of keys (ResourceType key, the only
// kind here).
func (p params) resourceIDs() ([]string, error) {
	if t := p["ResourceType"]; t != "" && t != "key" {
		return nil, invalidParameter("ResourceType", "only key is supported")
	}
	ids := p.indexed("ResourceId")
	if len(ids) == 0 {
		return nil, missingParameter("ResourceId.1")
	}
	return ids, nil
}

func tagResources(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	ids, err := p.resourceIDs()
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for i := 1; ; i++ {
		k, ok := p["Tag."+strconv.Itoa(i)+".Key"]
		if !ok {
			break
		}
		tags[k] = p["Tag."+strconv.Itoa(i)+".Value"]
	}
	if len(tags) == 0 {
		return nil, missingParameter("Tag.1.Key")
	}
	for _, id := range ids {
		if err := h.cfg.Service.UpdateTags(ctx, id, tags, nil); err != nil {
			return nil, err
		}
	}
	return &empty{}, nil
}

func untagResources(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	ids, err := p.resourceIDs()
	if err != nil {
		return nil, err
	}
	all, err := p.boolean("All", false)
	if err != nil {
		return nil, err
	}
	names := p.indexed("TagKey")
	for _, id := range ids {
		remove := names
		if all {
			md, err := h.cfg.Service.DescribeKey(ctx, id)
			if err != nil {
				return nil, err
			}
			remove = nil
			for name := range md.Tags {
				remove = append(remove, name)
			}
		}
		if err := h.cfg.Service.UpdateTags(ctx, id, nil, remove); err != nil {
			return nil, err
		}
	}
	return &empty{}, nil
}

type tagResourceEntry struct {
	ResourceId   string `json:"ResourceId" xml:"ResourceId"`
	ResourceType string `json:"ResourceType" xml:"ResourceType"`
	TagKey       string `json:"TagKey" xml:"TagKey"`
	TagValue     string `json:"TagValue" xml:"TagValue"`
}

type listTagResourcesResponse struct {
	base
	NextToken    string `json:"NextToken" xml:"NextToken"`
	TagResources struct {
		TagResource []tagResourceEntry `json:"TagResource" xml:"TagResource"`
	} `json:"TagResources" xml:"TagResources"`
}

// listTagResources answers in one page: a key has at most 20 tags.
func listTagResources(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	ids, err := p.resourceIDs()
	if err != nil {
		return nil, err
	}
	out := &listTagResourcesResponse{}
	out.TagResources.TagResource = []tagResourceEntry{}
	for _, id := range ids {
		md, err := h.cfg.Service.DescribeKey(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, name := range slices.Sorted(maps.Keys(md.Tags)) {
			out.TagResources.TagResource = append(out.TagResources.TagResource,
				tagResourceEntry{ResourceId: md.KeyID, ResourceType: "key", TagKey: name, TagValue: md.Tags[name]})
		}
	}
	return out, nil
}

type tagPair struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// jsonTags reads Tags: a JSON array of {"TagKey","TagValue"} (CreateKey,
// TagResource); absent is none.
func (p params) jsonTags() (map[string]string, error) {
	v := p["Tags"]
	if v == "" {
		return nil, nil
	}
	var pairs []tagPair
	if err := json.Unmarshal([]byte(v), &pairs); err != nil {
		return nil, invalidParameter("Tags", `a JSON array of {"TagKey":…,"TagValue":…}`)
	}
	out := map[string]string{}
	for _, t := range pairs {
		out[t.TagKey] = t.TagValue
	}
	return out, nil
}

func tagResource(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	tags, err := p.jsonTags()
	if err != nil {
		return nil, err
	}
	if len(tags) == 0 {
		return nil, missingParameter("Tags")
	}
	return &empty{}, h.cfg.Service.UpdateTags(ctx, id, tags, nil)
}

func untagResource(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal([]byte(p["TagKeys"]), &names); err != nil || len(names) == 0 {
		return nil, invalidParameter("TagKeys", "a JSON array of tag keys")
	}
	return &empty{}, h.cfg.Service.UpdateTags(ctx, id, nil, names)
}

type resourceTag struct {
	KeyId    string `json:"KeyId" xml:"KeyId"`
	TagKey   string `json:"TagKey" xml:"TagKey"`
	TagValue string `json:"TagValue" xml:"TagValue"`
}

type listResourceTagsResponse struct {
	base
	Tags struct {
		Tag []resourceTag `json:"Tag" xml:"Tag"`
	} `json:"Tags" xml:"Tags"`
}

func listResourceTags(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	md, err := h.cfg.Service.DescribeKey(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &listResourceTagsResponse{}
	out.Tags.Tag = []resourceTag{}
	for _, name := range slices.Sorted(maps.Keys(md.Tags)) {
		out.Tags.Tag = append(out.Tags.Tag, resourceTag{KeyId: md.KeyID, TagKey: name, TagValue: md.Tags[name]})
	}
	return out, nil
}
