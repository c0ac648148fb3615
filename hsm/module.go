package hsm

import (
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// PKCS#11 state (C_Initialize, login) is per process, and crypto11 keeps its
// own reference-counted module table. This table does the same for the
// contexts this package opens with miekg/pkcs11, so that every open HSM, CLI
// call and crypto11 context in the process shares one initialised library.
var modules = struct {
	sync.Mutex
	m map[string]*moduleRef
}{m: map[string]*moduleRef{}}

type moduleRef struct {
	ctx  *pkcs11.Ctx
	refs int
}

// loadModule opens the library without initialising it, only to say whether
// path is a PKCS#11 library at all.
func loadModule(path string) error {
	if err := checkModuleFile(path); err != nil {
		return err
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return newError(ErrModule, nil, "%s is not a PKCS#11 library (no C_GetFunctionList)", path)
	}
	ctx.Destroy()
	return nil
}

// acquireModule returns an initialised context for path. crypto11 may have
// initialised the library already; that is fine, the state is shared.
func acquireModule(path string) (*pkcs11.Ctx, error) {
	modules.Lock()
	defer modules.Unlock()
	if ref, ok := modules.m[path]; ok {
		ref.refs++
		return ref.ctx, nil
	}
	if err := checkModuleFile(path); err != nil {
		return nil, err
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, newError(ErrModule, nil, "%s is not a PKCS#11 library (no C_GetFunctionList)", path)
	}
	if err := ctx.Initialize(); err != nil && !isCKR(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, newError(ErrModule, err, "initialise PKCS#11 module %s: %v", path, err)
	}
	modules.m[path] = &moduleRef{ctx: ctx, refs: 1}
	return ctx, nil
}

// releaseModule drops one reference; the last one finalises the library
// (a no-op if crypto11 finalised it first) and unloads it.
func releaseModule(path string) {
	modules.Lock()
	defer modules.Unlock()
	ref, ok := modules.m[path]
	if !ok {
		return
	}
	ref.refs--
	if ref.refs > 0 {
		return
	}
	_ = ref.ctx.Finalize()
	ref.ctx.Destroy()
	delete(modules.m, path)
}

// findSlot returns the slot whose token the config selects.
func findSlot(mod *pkcs11.Ctx, cfg *Config) (uint, pkcs11.TokenInfo, error) {
	slots, err := mod.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("list slots: %w", err)
	}
	var labels []string
	for _, slot := range slots {
		info, err := mod.GetTokenInfo(slot)
		if err != nil {
			continue // a slot whose token vanished in between
		}
		labels = append(labels, strings.TrimSpace(info.Label))
		switch {
		case cfg.Slot != nil && *cfg.Slot == slot,
			cfg.TokenLabel != "" && strings.TrimSpace(info.Label) == cfg.TokenLabel,
			cfg.TokenSerial != "" && strings.TrimSpace(info.SerialNumber) == cfg.TokenSerial:
			return slot, info, nil
		}
	}
	return 0, pkcs11.TokenInfo{}, newError(ErrTokenNotFound, nil, "token %q not found in %s (tokens present: %q)", cfg.tokenName(), cfg.Module, labels)
}
