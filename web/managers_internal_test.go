package web

import (
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
	"github.com/funnelwatch/funnelwatch/ru"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		what string
		xs   []float64
		want float64
	}{
		{"none is 0", nil, 0},
		{"one is itself", []float64{7}, 7},
		{"odd: the middle one, whatever the order", []float64{9, 1, 5}, 5},
		{"even: the mean of the two middle ones", []float64{4, 1, 3, 2}, 2.5},
		{"zeros count", []float64{0, 0, 10}, 0},
	} {
		in := append([]float64(nil), c.xs...)
		if got := median(c.xs); got != c.want {
			t.Errorf("%s: median(%v) = %v, want %v", c.what, in, got, c.want)
		}
		for i := range in {
			if in[i] != c.xs[i] {
				t.Errorf("%s: median reordered its argument", c.what)
			}
		}
	}
}

// TestScorecard: the median is over the managers of the regulations only
// (not the head of sales), a figure on the bad side of it is marked, and
// the furthest there is the worst — of the columns shown.
func TestScorecard(t *testing.T) {
	f := &funnelwatch.Funnel{Users: []funnelwatch.User{
		{ID: "a", Role: funnelwatch.RoleManager}, {ID: "b", Role: funnelwatch.RoleManager},
		{ID: "c", Role: funnelwatch.RoleManager}, {ID: "boss", Role: funnelwatch.RoleSupervisor}}}
	rep := &report.ManagersReport{Managers: map[string]*report.ManagerFigures{
		"a":    {OverdueTasks: 1, Revenue: 100, Won: 1, AvgCheck: 100},
		"b":    {OverdueTasks: 3, Revenue: 300, Won: 1, AvgCheck: 300},
		"c":    {OverdueTasks: 9, Revenue: 50},
		"boss": {OverdueTasks: 100, Revenue: 1e6},
	}}
	line := func(lines []scoreLine, key string) scoreLine {
		for _, l := range lines {
			if l.Key == key {
				return l
			}
		}
		t.Fatalf("no line %s", key)
		return scoreLine{}
	}
	lines, team := scorecard("en", f, rep, []string{"a", "b", "c"})
	if team != 3 {
		t.Errorf("the median is over %d users, want the 3 managers", team)
	}
	over := line(lines, "overdue_tasks")
	if over.Median != "3" {
		t.Errorf("overdue median %s, want 3 (the boss's 100 left out)", over.Median)
	}
	if over.Cells[0].Worse || over.Cells[1].Worse || !over.Cells[2].Worse || !over.Cells[2].Worst {
		t.Errorf("overdue tasks, fewer is better: only c (9 > 3) is worse, and the worst: %+v", over.Cells)
	}
	rev := line(lines, "revenue")
	if !rev.Cells[2].Worse || !rev.Cells[2].Worst || rev.Cells[0].Worse || rev.Cells[1].Worse {
		t.Errorf("revenue, more is better: only c is below the median (a's 100 ₽ is it): %+v", rev.Cells)
	}
	// c won nothing: no average check, rather than the worst one of 0 ₽;
	// the median is of a's and b's.
	chk := line(lines, "avg_check")
	if chk.Cells[2].Value != "—" || chk.Cells[2].Worse || chk.Median != ru.Money(200) || !chk.Cells[0].Worst {
		t.Errorf("average check without a win: %+v, median %s; want —, unmarked, median of a and b, a the worst", chk.Cells, chk.Median)
	}
	// The head of sales' line is shown, never marked.
	lines, _ = scorecard("en", f, rep, []string{"a", "boss"})
	if c := line(lines, "overdue_tasks").Cells[1]; c.Worse || c.Worst {
		t.Errorf("the supervisor's 100 overdue tasks are marked: %+v", c)
	}
	// One column: marked against the median, never "the worst".
	lines, _ = scorecard("en", f, rep, []string{"c"})
	if c := line(lines, "overdue_tasks").Cells[0]; !c.Worse || c.Worst {
		t.Errorf("a single card: %+v, want worse and not worst", c)
	}
}

// TestBacktestOneAtATime: while a backtest runs, another is refused at
// once rather than queued behind it.
func TestBacktestOneAtATime(t *testing.T) {
	s := &Server{backtests: make(chan struct{}, 1)}
	s.backtests <- struct{}{} // one running
	if _, err := s.backtest(t.Context(), nil, "observe"); err != errBusy {
		t.Errorf("a second backtest: %v, want errBusy", err)
	}
}
