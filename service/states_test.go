package service

import "testing"

// Every row of the state table says what happens in every state (no cell
// left at the zero Kind, which is KindInternal), every refusal is one of
// the state Kinds, and every operation has a name for its messages.
func TestStateRulesComplete(t *testing.T) {
	states := []KeyState{StateEnabled, StateDisabled, StatePendingDeletion, StatePendingImport, StateArchived}
	refusals := map[Kind]bool{KindDisabled: true, KindPendingDeletion: true, KindPendingImport: true, KindStateConflict: true, KindNotPendingDeletion: true}
	for cloud, rules := range StateRules {
		testRules(t, cloud, rules, states, refusals)
	}
	if len(StateRules) != 2 || cancelledState[CloudAliyun] != StateEnabled || cancelledState[CloudTencent] != StateDisabled {
		t.Fatal("a cloud without its table or its cancelled state")
	}
}

func testRules(t *testing.T, cloud Cloud, rules *[opEnd]StateRule, states []KeyState, refusals map[Kind]bool) {
	for op := Op(0); op < opEnd; op++ {
		if opNames[op] == "" {
			t.Errorf("op %d has no name", op)
		}
		allowedSomewhere := false
		for _, st := range states {
			switch k := rules[op].Outcome(st); {
			case k == Allowed:
				allowedSomewhere = true
			case !refusals[k]:
				t.Errorf("cloud %d: %s in %s: %v is not a state refusal", cloud, opNames[op], st, k)
			}
		}
		if !allowedSomewhere {
			t.Errorf("cloud %d: %s is allowed in no state", cloud, opNames[op])
		}
	}
}
