package engine

import (
	"encoding/json"
	"testing"
	"time"
)

// A backtest that freezes its closed deals as often as it can finds and
// does exactly what one that never freezes does: the demo company's
// history (calls placed on closed deals by their contact, reopened
// deals, robots acting on lost and won ones) in both modes, three days
// past its end.
func TestFrozenDealsChangeNothing(t *testing.T) {
	days := 90
	if testing.Short() {
		days = 30
	}
	regs, events, end := demoCompany(t, days)
	for _, mode := range []Mode{Simulate, Observe} {
		r, err := backtest(regs, events, end.Add(72*time.Hour), mode, -1)
		if err != nil {
			t.Fatal(err)
		}
		never := r.res
		if r, err = backtest(regs, events, end.Add(72*time.Hour), mode, 200); err != nil {
			t.Fatal(err)
		}
		often := r.res
		t.Logf("%s: %d deals, %d frozen at the end, %d thawed", mode, len(r.aggs), len(r.fz.recs), r.fz.thawed)
		if len(r.fz.recs) == 0 || r.fz.thawed == 0 {
			t.Fatalf("%s: no deal frozen and thawed: nothing compared", mode)
		}
		want, got := resultJSON(t, never), resultJSON(t, often)
		if len(never.Violations) == 0 || len(never.Actions) == 0 {
			t.Fatalf("%s: nothing to compare", mode)
		}
		if got != want {
			t.Fatalf("%s: the backtest that freezes closed deals differs (%d findings, %d actions; %d and %d without freezing)",
				mode, len(often.Violations), len(often.Actions), len(never.Violations), len(never.Actions))
		}
	}
}

func resultJSON(t *testing.T, res *BacktestResult) string {
	t.Helper()
	b, err := json.Marshal(struct {
		V []*Violation
		A []*Action
		S []SkippedEvent
	}{res.Violations, res.Actions, res.Skipped})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
