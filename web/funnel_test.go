package web_test

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
)

// TestFunnelPageIsTheReport: on the demo company, every stage's line of
// the funnel page shows report.Funnel's figures — the API's — for each
// pipeline over the default week: deals now, entries, exits, the
// conversions, the flags of the broken ladder and of the worst bottleneck.
func TestFunnelPageIsTheReport(t *testing.T) {
	s := newDemoSite(t)
	c := browser(t)
	s.signIn(t, c, "sergey", "sergey-password")
	from, to := demoWeek(s)
	pct := func(x float64) string { return fmt.Sprintf("%.0f%%", x*100) } // as the page writes it
	rowRE := regexp.MustCompile(`(?s)<tr class="stage-[^"]*" data-stage="([^"]+)" data-ladder="(\w+)" data-worst="(\w+)">(.*?)</tr>`)
	var ladders, worsts int
	for _, p := range s.funnel.Pipelines {
		var want *report.FunnelReport
		err := s.store.View(context.Background(), "w", func(tx funnelwatch.ReadTx) error {
			var err error
			want, err = report.Funnel(context.Background(), tx, s.funnel, p.ID, from, to)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		code, page := get(t, c, s.URL+"/funnel?pipeline="+p.ID+"&lang=en")
		if code != 200 {
			t.Fatalf("GET /funnel?pipeline=%s = %d", p.ID, code)
		}
		rows := rowRE.FindAllStringSubmatch(page, -1)
		if len(rows) != len(want.Stages) {
			t.Fatalf("%s: %d lines on the page, %d in the report", p.ID, len(rows), len(want.Stages))
		}
		worst, worstAt := 0.0, ""
		for _, st := range want.Stages {
			if st.Bottleneck != nil && *st.Bottleneck > worst {
				worst, worstAt = *st.Bottleneck, st.Stage
			}
		}
		for i, st := range want.Stages {
			row := rows[i]
			if row[1] != st.Stage {
				t.Errorf("%s line %d is %s, the report's %s", p.ID, i, row[1], st.Stage)
				continue
			}
			if got := row[2] == "true"; got != st.Ladder {
				t.Errorf("%s/%s: broken ladder flagged %v, the report says %v", p.ID, st.Stage, got, st.Ladder)
			}
			if got := row[3] == "true"; got != (st.Stage == worstAt) {
				t.Errorf("%s/%s: marked worst %v, the report's worst bottleneck is %q", p.ID, st.Stage, got, worstAt)
			}
			if st.Ladder {
				ladders++
			}
			if st.Stage == worstAt {
				worsts++
			}
			cells := regexp.MustCompile(`(?s)<td class="num[^"]*"[^>]*>(.*?)</td>`).FindAllStringSubmatch(row[4], -1)
			text := func(i int) string {
				return strings.TrimSpace(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(cells[i][1], ""))
			}
			wantCells := map[int]string{
				0: fmt.Sprint(st.DealsNow),
				2: fmt.Sprintf("%d (%d)", st.Entries, st.Previous.Entries),
				3: fmt.Sprint(st.Exits),
			}
			if st.Type == funnelwatch.StageOpen {
				wantCells[4], wantCells[5] = pct(st.ConversionNext), pct(st.ConversionWon)
			}
			if st.Bottleneck != nil {
				wantCells[9] = fmt.Sprintf("%.1f", *st.Bottleneck)
			}
			for i, w := range wantCells {
				if got := text(i); got != w {
					t.Errorf("%s/%s column %d: page %q, report %q", p.ID, st.Stage, i, got, w)
				}
			}
		}
	}
	t.Logf("%d pipelines: %d broken-ladder stages, %d worst bottlenecks, all as report.Funnel says", len(s.funnel.Pipelines), ladders, worsts)
	if ladders == 0 || worsts == 0 {
		t.Errorf("the demo shows no broken ladder (%d) or no bottleneck (%d): the test checks nothing", ladders, worsts)
	}
}

// demoWeek is the pages' default period on the demo's clock.
func demoWeek(s *demoSite) (from, to time.Time) {
	loc := s.funnel.Location
	l := s.now.In(loc)
	to = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
	return to.AddDate(0, 0, -7), to
}

func itoa(n int) string { return fmt.Sprint(n) }

// fmtMedian writes the median of whole numbers as the page does.
func fmtMedian(xs []float64) string {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return "0"
	}
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return fmt.Sprintf("%.0f", m)
}
