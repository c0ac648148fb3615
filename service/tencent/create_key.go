package tencent

import (
	"context"

	"github.com/keyport-kms/keyport/service"
)

type createKeyRequest struct {
	Alias        *string
	Description  *string
	KeyUsage     *string
	Type         *uint64
	HsmClusterId *string
	Tags         []tagPair
}

type tagPair struct {
	TagKey   *string
	TagValue *string
}

type createKeyResponse struct {
	base
	KeyId        string `json:"KeyId"`
	Alias        string `json:"Alias"`
	CreateTime   uint64 `json:"CreateTime"`
	Description  string `json:"Description"`
	KeyState     string `json:"KeyState"`
	KeyUsage     string `json:"KeyUsage"`
	HsmClusterId string `json:"HsmClusterId"`
}

// createKey: Type 1 is Keyport-made material, 2 is EXTERNAL (BYOK). A
// non-empty HsmClusterId asks for an HSM-level key, the only kind SM2
// wrapping may import into.
func createKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req createKeyRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	alias, err := required("Alias", req.Alias)
	if err != nil {
		return nil, err
	}
	kind := asymmetricKind{usage: service.UsageEncryptDecrypt}
	if u := str(req.KeyUsage); u != "" && u != usageEncryptDecrypt {
		var ok bool
		if kind, ok = asymmetricUsages[u]; !ok {
			return nil, &apiError{"InvalidParameterValue.InvalidKeyUsage", "KeyUsage must be ENCRYPT_DECRYPT, ASYMMETRIC_SIGN_VERIFY_RSA_2048, ASYMMETRIC_SIGN_VERIFY_ECC, ASYMMETRIC_SIGN_VERIFY_SM2, ASYMMETRIC_DECRYPT_RSA_2048 or ASYMMETRIC_DECRYPT_SM2"}
		}
	}
	origin := service.OriginKMS
	switch {
	case req.Type == nil || *req.Type == 1:
	case *req.Type == 2:
		origin = service.OriginExternal
	default:
		return nil, &apiError{"InvalidParameterValue.InvalidType", "Type must be 1 (KMS-made material) or 2 (EXTERNAL)"}
	}
	level := service.ProtectionSoftware
	if str(req.HsmClusterId) != "" {
		level = service.ProtectionHSM
	}
	md, err := h.cfg.Service.CreateKey(ctx, service.CreateKeyRequest{
		Spec: kind.spec, Usage: kind.usage, Origin: origin, Protection: level, Description: str(req.Description), Alias: alias,
		HSMCluster: str(req.HsmClusterId), Tags: tagMap(req.Tags),
	})
	if err != nil {
		return nil, err
	}
	m := h.metadata(md)
	return &createKeyResponse{KeyId: m.KeyId, Alias: m.Alias, CreateTime: m.CreateTime, Description: m.Description,
		KeyState: m.KeyState, KeyUsage: m.KeyUsage, HsmClusterId: m.HsmClusterId}, nil
}

// tagMap reads Tencent Cloud's tag list; nil for none.
func tagMap(pairs []tagPair) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, t := range pairs {
		out[str(t.TagKey)] = str(t.TagValue)
	}
	return out
}
