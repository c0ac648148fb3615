package tencent

import (
	"context"
	"time"
)

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

// daysDuration is n days; zero for zero (keep the key's interval).
func daysDuration(n uint64) time.Duration { return time.Duration(n) * 24 * time.Hour }
