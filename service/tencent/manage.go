package tencent

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"

	"github.com/keyport-kms/keyport/service"
)

type updateAliasRequest struct {
	KeyId *string
	Alias *string
}

func updateAlias(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req updateAliasRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	alias, err := required("Alias", req.Alias)
	if err != nil {
		return nil, err
	}
	return &empty{}, h.cfg.Service.SetDisplayAlias(ctx, id, alias)
}

type updateKeyDescriptionRequest struct {
	KeyId       *string
	Description *string
}

func updateKeyDescription(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req updateKeyDescriptionRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	if req.Description == nil {
		return nil, missingParameter("Description")
	}
	return &empty{}, h.cfg.Service.UpdateKeyDescription(ctx, id, *req.Description)
}

type enableKeyRotationRequest struct {
	KeyId      *string
	RotateDays *uint64
}

func enableKeyRotation(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req enableKeyRotationRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	var days uint64
	if req.RotateDays != nil {
		if days = *req.RotateDays; days < 7 || days > 365 {
			return nil, invalidParameter("RotateDays", "from 7 to 365")
		}
	}
	return &empty{}, h.cfg.Service.SetRotationPolicy(ctx, id, true, daysDuration(days))
}

func disableKeyRotation(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return withKey(body, func(id string) error { return h.cfg.Service.SetRotationPolicy(ctx, id, false, 0) })
}

type getKeyRotationStatusResponse struct {
	base
	KeyRotationEnabled bool   `json:"KeyRotationEnabled"`
	NextRotateTime     uint64 `json:"NextRotateTime"`
	RotateDays         uint64 `json:"RotateDays"`
	LastRotateTime     uint64 `json:"LastRotateTime"`
}

func getKeyRotationStatus(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var out *getKeyRotationStatusResponse
	_, err := withKey(body, func(id string) error {
		md, err := h.cfg.Service.DescribeKey(ctx, id)
		if err != nil {
			return err
		}
		out = &getKeyRotationStatusResponse{KeyRotationEnabled: md.AutoRotate, NextRotateTime: unix(md.NextRotation),
			RotateDays: uint64(md.RotationInterval.Hours() / 24), LastRotateTime: unix(md.LastRotation)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func archiveKey(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return withKey(body, func(id string) error { return h.cfg.Service.ArchiveKey(ctx, id) })
}

func cancelKeyArchive(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return withKey(body, func(id string) error { return h.cfg.Service.CancelKeyArchive(ctx, id) })
}

type keyIDsRequest struct {
	KeyIds []*string
}

// keyIDs reads KeyIds: 1 to 100 key ids.
func keyIDs(body []byte) ([]string, error) {
	var req keyIDsRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if len(req.KeyIds) == 0 || len(req.KeyIds) > 100 {
		return nil, invalidParameter("KeyIds", "1 to 100 key ids")
	}
	out := make([]string, 0, len(req.KeyIds))
	for _, p := range req.KeyIds {
		id, err := keyID(p)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// enableKeys and disableKeys check every key before changing any, so a
// bad id in the batch changes nothing.
func enableKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return h.each(ctx, body, h.cfg.Service.EnableKey)
}

func disableKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	return h.each(ctx, body, h.cfg.Service.DisableKey)
}

func (h *Handler) each(ctx context.Context, body []byte, fn func(context.Context, string) error) (withRequestID, error) {
	ids, err := keyIDs(body)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := h.cfg.Service.DescribeKey(ctx, id); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		if err := fn(ctx, id); err != nil {
			return nil, err
		}
	}
	return &empty{}, nil
}

type keyMetadatasResponse struct {
	base
	KeyMetadatas []keyMetadata `json:"KeyMetadatas"`
	TotalCount   uint64        `json:"TotalCount"`
}

func describeKeys(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	ids, err := keyIDs(body)
	if err != nil {
		return nil, err
	}
	out := &keyMetadatasResponse{KeyMetadatas: []keyMetadata{}}
	for _, id := range ids {
		md, err := h.cfg.Service.DescribeKey(ctx, id)
		if service.KindOf(err) == service.KindNotFound {
			continue // as Tencent Cloud does: missing ids are left out
		}
		if err != nil {
			return nil, err
		}
		out.KeyMetadatas = append(out.KeyMetadatas, h.metadata(md))
	}
	out.TotalCount = uint64(len(out.KeyMetadatas))
	return out, nil
}

type listKeyDetailRequest struct {
	Offset         *uint64
	Limit          *uint64
	Role           *uint64
	OrderType      *uint64
	KeyState       *uint64
	SearchKeyAlias *string
	Origin         *string
	KeyUsage       *string
	HsmClusterId   *string
	TagFilters     []struct {
		TagKey   *string
		TagValue []*string
	}
}

// listKeyDetail filters the whole key set, then pages: newest first unless
// OrderType is 1.
func listKeyDetail(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req listKeyDetailRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	limit, offset := 10, 0
	if req.Limit != nil {
		if *req.Limit == 0 || *req.Limit > service.MaxPageSize {
			return nil, invalidParameter("Limit", "from 1 to 200")
		}
		limit = int(*req.Limit)
	}
	if req.Offset != nil {
		if *req.Offset > 1<<31 {
			return nil, invalidParameter("Offset", "too large")
		}
		offset = int(*req.Offset)
	}
	if req.OrderType != nil && *req.OrderType > 1 {
		return nil, invalidParameter("OrderType", "0 (newest first) or 1 (oldest first)")
	}
	keep, err := detailSelector(&req, detailFilters)
	if err != nil {
		return nil, err
	}
	keys, err := h.cfg.Service.FindKeys(ctx, keep)
	if err != nil {
		return nil, err
	}
	all := make([]keyMetadata, 0, len(keys))
	for i := range keys {
		all = append(all, h.metadata(&keys[i]))
	}
	if req.OrderType == nil || *req.OrderType == 0 {
		slices.Reverse(all)
	}
	out := &keyMetadatasResponse{TotalCount: uint64(len(all)), KeyMetadatas: []keyMetadata{}}
	if offset < len(all) {
		out.KeyMetadatas = all[offset:min(len(all), offset+limit)]
	}
	return out, nil
}

type reEncryptRequest struct {
	CiphertextBlob               *string
	DestinationKeyId             *string
	SourceEncryptionContext      *string
	DestinationEncryptionContext *string
}

type reEncryptResponse struct {
	base
	CiphertextBlob string `json:"CiphertextBlob"`
	KeyId          string `json:"KeyId"`
	SourceKeyId    string `json:"SourceKeyId"`
	ReEncrypted    bool   `json:"ReEncrypted"`
}

// reEncrypt: without DestinationKeyId the ciphertext moves to its own
// key's primary version (after a rotation), as Tencent Cloud does.
func reEncrypt(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req reEncryptRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	blob, err := base64Param("CiphertextBlob", req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	src, err := encryptionContext("SourceEncryptionContext", req.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	dst, err := encryptionContext("DestinationEncryptionContext", req.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	dest := str(req.DestinationKeyId) // empty: the source key, which the service finds in the blob
	if dest != "" && !looksLikeKeyID(dest) {
		return nil, errInvalidKeyID
	}
	res, err := h.cfg.Service.ReEncrypt(ctx, service.ReEncryptRequest{CiphertextBlob: blob, SourceContext: src, DestinationKeyID: dest, DestinationContext: dst})
	if err != nil {
		return nil, err
	}
	return &reEncryptResponse{CiphertextBlob: base64.StdEncoding.EncodeToString(res.CiphertextBlob), KeyId: res.KeyID,
		SourceKeyId: res.SourceKeyID, ReEncrypted: true}, nil
}

type generateRandomRequest struct {
	NumberOfBytes *uint64
}

type generateRandomResponse struct {
	base
	Plaintext string `json:"Plaintext"`
}

func generateRandom(_ context.Context, _ *Handler, body []byte) (withRequestID, error) {
	var req generateRandomRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if req.NumberOfBytes == nil {
		return nil, missingParameter("NumberOfBytes")
	}
	if *req.NumberOfBytes < 1 || *req.NumberOfBytes > service.MaxDataKeyBytes {
		return nil, invalidParameter("NumberOfBytes", "from 1 to 1024")
	}
	b := make([]byte, *req.NumberOfBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &generateRandomResponse{Plaintext: base64.StdEncoding.EncodeToString(b)}, nil
}

type getServiceStatusResponse struct {
	base
	ServiceEnabled      bool   `json:"ServiceEnabled"`
	InvalidType         int64  `json:"InvalidType"`
	UserLevel           uint64 `json:"UserLevel"`
	ExclusiveHSMEnabled bool   `json:"ExclusiveHSMEnabled"`
}

// getServiceStatus: the service is on; UserLevel 1 (flagship) says HSM
// keys are available, and Keyport's HSM is the user's own.
func getServiceStatus(context.Context, *Handler, []byte) (withRequestID, error) {
	return &getServiceStatusResponse{ServiceEnabled: true, UserLevel: 1, ExclusiveHSMEnabled: true}, nil
}

type algorithmInfo struct {
	KeyUsage  string `json:"KeyUsage"`
	Algorithm string `json:"Algorithm"`
}

type listAlgorithmsResponse struct {
	base
	SymmetricAlgorithms            []algorithmInfo `json:"SymmetricAlgorithms"`
	AsymmetricAlgorithms           []algorithmInfo `json:"AsymmetricAlgorithms"`
	AsymmetricSignVerifyAlgorithms []algorithmInfo `json:"AsymmetricSignVerifyAlgorithms"`
}

// listAlgorithms names the key kinds CreateKey makes: symmetric only.
func listAlgorithms(context.Context, *Handler, []byte) (withRequestID, error) {
	return &listAlgorithmsResponse{
		SymmetricAlgorithms:            []algorithmInfo{{KeyUsage: usageEncryptDecrypt, Algorithm: "SYMMETRIC_AES256"}, {KeyUsage: usageEncryptDecrypt, Algorithm: "SM4"}},
		AsymmetricAlgorithms:           []algorithmInfo{},
		AsymmetricSignVerifyAlgorithms: []algorithmInfo{},
	}, nil
}

// daysDuration is n days; zero for zero (keep the key's interval).
func daysDuration(n uint64) time.Duration { return time.Duration(n) * 24 * time.Hour }
