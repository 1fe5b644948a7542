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

// A periodic snapshot waits for its events and for snapshotPace times as
// long as the last one took, so that snapshots hold the engine for at
// most 0.5 % of its time; a graceful stop's is never held back.
func TestSnapshotsArePaced(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l := &Live{SnapshotEvery: 100, lastSnap: at, lastSnapCost: 40 * time.Millisecond}
	for _, c := range []struct {
		events int64
		after  time.Duration
		want   bool
	}{
		{0, time.Hour, false},
		{99, time.Hour, false},
		{100, 7999 * time.Millisecond, false},
		{100, 8 * time.Second, true},
		{5000, 2 * time.Second, false},
	} {
		l.sinceSnap = c.events
		if got := l.snapshotDue(at.Add(c.after)); got != c.want {
			t.Errorf("%d events and %v after a snapshot of 40ms: due %v, want %v", c.events, c.after, got, c.want)
		}
	}
	l.sinceSnap, l.forceSnap = 1, true
	if !l.snapshotDue(at) {
		t.Error("the snapshot of a graceful stop was held back")
	}
	l.SnapshotEvery = -1
	if l.snapshotDue(at.Add(time.Hour)) {
		t.Error("a snapshot is due with snapshots off")
	}
}
