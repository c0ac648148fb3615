package hsm

import (
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"
)

// Slot describes one slot and its token for `keyport hsm slots`.
type Slot struct {
	ID          uint   `json:"slot"`
	Label       string `json:"label"`
	Serial      string `json:"serial"`
	Model       string `json:"model"`
	Initialized bool   `json:"initialized"`
}

// Slots lists the slots that hold a token, initialised or free.
func Slots(module string) ([]Slot, error) {
	mod, err := acquireModule(module)
	if err != nil {
		return nil, err
	}
	defer releaseModule(module)
	ids, err := mod.GetSlotList(true)
	if err != nil {
		return nil, fmt.Errorf("list slots: %w", err)
	}
	out := make([]Slot, 0, len(ids))
	for _, id := range ids {
		info, err := mod.GetTokenInfo(id)
		if err != nil {
			return nil, fmt.Errorf("token info of slot %d: %w", id, err)
		}
		out = append(out, Slot{
			ID:          id,
			Label:       strings.TrimSpace(info.Label),
			Serial:      strings.TrimSpace(info.SerialNumber),
			Model:       strings.TrimSpace(info.Model),
			Initialized: info.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0,
		})
	}
	return out, nil
}

// InitToken initialises the token in slot (or the first free one when slot
// is nil) with label and SO PIN, then sets the user PIN. It refuses a slot
// whose token is already initialised, so that no key is wiped by mistake.
func InitToken(module string, slot *uint, label, soPIN, userPIN string) (uint, error) {
	if label == "" || soPIN == "" || userPIN == "" {
		return 0, fmt.Errorf("init token: label, SO PIN and user PIN are all required")
	}
	slots, err := Slots(module)
	if err != nil {
		return 0, err
	}
	var target *Slot
	for i := range slots {
		s := &slots[i]
		if s.Initialized && s.Label == label {
			return 0, fmt.Errorf("init token: a token labelled %q exists already in slot %d", label, s.ID)
		}
		if slot != nil && s.ID == *slot {
			if s.Initialized {
				return 0, fmt.Errorf("init token: slot %d holds initialised token %q; refusing to wipe it", s.ID, s.Label)
			}
			target = s
		}
		if slot == nil && target == nil && !s.Initialized {
			target = s
		}
	}
	if target == nil {
		if slot != nil {
			return 0, fmt.Errorf("init token: no token in slot %d", *slot)
		}
		return 0, fmt.Errorf("init token: no free slot on %s", module)
	}
	mod, err := acquireModule(module)
	if err != nil {
		return 0, err
	}
	defer releaseModule(module)
	if err := mod.InitToken(target.ID, soPIN, label); err != nil {
		return 0, fmt.Errorf("init token in slot %d: %w", target.ID, err)
	}
	// SoftHSM2 moves a newly initialised token to a new slot id; find it by label.
	ids, err := mod.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("list slots: %w", err)
	}
	newSlot, found := target.ID, false
	for _, id := range ids {
		if info, err := mod.GetTokenInfo(id); err == nil && strings.TrimSpace(info.Label) == label {
			newSlot, found = id, true
			break
		}
	}
	if !found {
		return 0, fmt.Errorf("init token: token %q not seen after initialisation", label)
	}
	s, err := mod.OpenSession(newSlot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return 0, fmt.Errorf("open SO session: %w", err)
	}
	defer func() { _ = mod.CloseSession(s) }()
	if err := mod.Login(s, pkcs11.CKU_SO, soPIN); err != nil {
		return 0, fmt.Errorf("SO login: %w", loginError(err, label))
	}
	defer func() { _ = mod.Logout(s) }()
	if err := mod.InitPIN(s, userPIN); err != nil {
		return 0, fmt.Errorf("set user PIN: %w", err)
	}
	return newSlot, nil
}
