package storetest

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/keyport-kms/keyport/store"
)

// Two stores have two deployment ids; InitMeta keeps the first value set.
func meta(t *testing.T, f Factory) {
	a := f.New(t)
	b := f.New(t)
	ctx := context.Background()
	ida, _ := a.Meta(ctx, store.MetaDeployment)
	idb, _ := b.Meta(ctx, store.MetaDeployment)
	if ida == "" || ida == idb {
		t.Fatalf("deployment ids %q and %q", ida, idb)
	}
	if v, _ := a.Meta(ctx, "x"); v != "" {
		t.Fatalf("unset setting reads %q", v)
	}
	var wg sync.WaitGroup
	won := make([]string, 16)
	for i := range won {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], _ = a.InitMeta(ctx, "x", strconv.Itoa(i))
		}()
	}
	wg.Wait()
	for _, v := range won {
		if v != won[0] {
			t.Fatalf("racing InitMeta calls saw different values: %q", won)
		}
	}
	if v, _ := a.Meta(ctx, "x"); v != won[0] {
		t.Fatalf("stored %q, InitMeta said %q", v, won[0])
	}
}
