package tencent

import "context"

type scheduleKeyDeletionRequest struct {
	KeyId               *string
	PendingWindowInDays *uint64
}

type scheduleKeyDeletionResponse struct {
	base
	KeyId        string `json:"KeyId"`
	DeletionDate uint64 `json:"DeletionDate"`
}

func scheduleKeyDeletion(ctx context.Context, h *Handler, body []byte) (withRequestID, error) {
	var req scheduleKeyDeletionRequest
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	if req.PendingWindowInDays == nil {
		return nil, missingParameter("PendingWindowInDays")
	}
	if *req.PendingWindowInDays < 7 || *req.PendingWindowInDays > 30 { // Tencent Cloud's window, narrower than Alibaba Cloud's
		return nil, &apiError{"InvalidParameter.InvalidPendingWindowInDays", "PendingWindowInDays must be from 7 to 30"}
	}
	md, err := h.cfg.Service.ScheduleKeyDeletion(ctx, id, int(*req.PendingWindowInDays))
	if err != nil {
		return nil, err
	}
	return &scheduleKeyDeletionResponse{KeyId: md.KeyID, DeletionDate: unix(md.DeleteDate)}, nil
}
