// Package storetest is the conformance suite of store.Store: one exercise
// per view (ExerciseKeys, ExerciseWrapping, …, as Vault's physical testing
// has one per interface), each run against every backend (store/bolt, and
// store/postgres on a real server) through Run. A file per view.
package storetest

import (
	"maps"
	"slices"
	"testing"

	"github.com/keyport-kms/keyport/store"
)

// Factory makes stores for the suite.
type Factory struct {
	// New makes a fresh, empty store (a new deployment) for one test and
	// closes it when the test ends.
	New func(t *testing.T) store.Store
	// Reopen closes s and opens the same store again, to check that what
	// was acknowledged is kept.
	Reopen func(t *testing.T, s store.Store) store.Store
}

// exercise runs the named tests of one view.
func exercise(t *testing.T, f Factory, tests map[string]func(*testing.T, Factory)) {
	for _, name := range slices.Sorted(maps.Keys(tests)) {
		t.Run(name, func(t *testing.T) { tests[name](t, f) })
	}
}

// Run runs every view's exercise against the implementation f makes.
func Run(t *testing.T, f Factory) {
	for _, v := range []struct {
		view string
		fn   func(*testing.T, Factory)
	}{
		{"Keys", ExerciseKeys}, {"Aliases", ExerciseAliases}, {"Wrapping", ExerciseWrapping},
		{"AccessKeys", ExerciseAccessKeys}, {"Users", ExerciseUsers}, {"Settings", ExerciseSettings}, {"Ledger", ExerciseLedger},
		{"Leases", ExerciseLeases}, {"Uses", ExerciseUses},
	} {
		t.Run(v.view, func(t *testing.T) { v.fn(t, f) })
	}
}

// ExerciseKeys: store.Keys.
func ExerciseKeys(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){
		"Basics": keys, "Paging": listKeysPaging, "Due": dueKeys, "VersionsAndObjects": versionsAndObjects})
}

// ExerciseAliases: store.Aliases (and DeleteKey taking a key's aliases).
func ExerciseAliases(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": aliases})
}

// ExerciseWrapping: store.Wrapping.
func ExerciseWrapping(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){
		"Pool": wrappingPool, "Due": dueWrapping, "ConcurrentClaims": concurrentClaims})
}

// ExerciseAccessKeys: store.AccessKeys.
func ExerciseAccessKeys(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": accessKeys})
}

// ExerciseUsers: store.Users.
func ExerciseUsers(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": users})
}

// ExerciseSettings: store.Settings.
func ExerciseSettings(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": meta})
}

// ExerciseLedger: store.Ledger.
func ExerciseLedger(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": ledger})
}

// ExerciseLeases: store.Leases.
func ExerciseLeases(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": leases})
}

// ExerciseUses: store.Uses, which a store replicas share must keep.
func ExerciseUses(t *testing.T, f Factory) {
	exercise(t, f, map[string]func(*testing.T, Factory){"Basics": uses})
}
