package aliyun

import "context"

func scheduleKeyDeletion(ctx context.Context, h *Handler, p params) (withRequestID, error) {
	id, err := p.required("KeyId")
	if err != nil {
		return nil, err
	}
	if _, err := p.required("PendingWindowInDays"); err != nil {
		return nil, err
	}
	days, err := p.integer("PendingWindowInDays")
	if err != nil {
		return nil, err
	}
	_, err = h.cfg.Service.ScheduleKeyDeletion(ctx, id, days)
	return &empty{}, err
}
