package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// NewDeploymentID returns a random deployment id: 16 lower-case hex digits.
func NewDeploymentID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("deployment id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Batch is how many records a backend's Each/Due walks hold at once: they
// read in batches, each in a transaction of its own, and call fn outside
// them, so that fn may write and no walk holds a whole table.
const Batch = 512

// Counts are how many records of each kind a store holds.
type Counts struct{ Keys, WrappingKeys, AccessKeys, Aliases, Users int }

// CountAll counts a store's records.
func CountAll(ctx context.Context, s Store) (Counts, error) {
	var c Counts
	var err error
	if _, c.Keys, err = s.ListKeys(ctx, 0, 0); err != nil {
		return c, err
	}
	if err := s.EachWrapping(ctx, func(*WrappingKey) bool { c.WrappingKeys++; return true }); err != nil {
		return c, err
	}
	aks, err := s.ListAccessKeys(ctx)
	if err != nil {
		return c, err
	}
	c.AccessKeys = len(aks)
	aliases, err := s.ListAliases(ctx, "", "")
	if err != nil {
		return c, err
	}
	c.Aliases = len(aliases)
	users, err := s.ListUsers(ctx)
	c.Users = len(users)
	return c, err
}

// CopiedMeta are the settings a copy takes over: the deployment id above
// all, which every token object of the deployment carries in its label.
var CopiedMeta = []string{MetaDeployment, MetaLegacyObjects, MetaMasterSeal, MetaMasterMAC, MetaAuditMAC}
