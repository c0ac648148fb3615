package service

import "testing"

// Every row of the state table says what happens in every state (no cell
// left at the zero Kind, which is KindInternal), every refusal is one of
// the state Kinds, and every operation has a name for its messages.
func TestStateRulesComplete(t *testing.T) {
	states := []KeyState{StateEnabled, StateDisabled, StatePendingDeletion, StatePendingImport, StateArchived}
	refusals := map[Kind]bool{KindDisabled: true, KindPendingDeletion: true, KindPendingImport: true, KindStateConflict: true, KindNotPendingDeletion: true}
	for op := Op(0); op < opEnd; op++ {
		if opNames[op] == "" {
			t.Errorf("op %d has no name", op)
		}
		allowedSomewhere := false
		for _, st := range states {
			switch k := StateRules[op].Outcome(st); {
			case k == Allowed:
				allowedSomewhere = true
			case !refusals[k]:
				t.Errorf("%s in %s: %v is not a state refusal", opNames[op], st, k)
			}
		}
		if !allowedSomewhere {
			t.Errorf("%s is allowed in no state", opNames[op])
		}
	}
}
