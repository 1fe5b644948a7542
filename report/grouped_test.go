package report_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/report"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// scanOnly hides the store's grouped counts: the report reads every
// finding and groups them itself, as it did before the counts were SQL.
type scanOnly struct{ funnelwatch.ReadTx }

// TestQualityGroupedEqualsScan checks that the quality report computed
// from the store's grouped counts equals the one computed from the
// findings themselves, over the dashboard benchmark's company (2,000
// deals, 90 days) and periods of a day, a week, a month, in the company's
// timezone and off its midnights.
func TestQualityGroupedEqualsScan(t *testing.T) {
	ctx := context.Background()
	company, err := demo.Generate(demo.Options{Seed: 1, End: time.Now(), Days: 1, LeadsPerDay: 1})
	if err != nil {
		t.Fatal(err)
	}
	regs, err := regulations.Parse(company.Regulations)
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "q.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 16, 7, 0, 0, time.UTC)
	counts, err := bench.BuildDashboardData(ctx, store, "w", &regs.Funnel, bench.DashboardData{Deals: 2000, Seed: 7, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if counts.Findings < 1000 || counts.OpenFindings < 100 {
		t.Fatalf("too few findings to compare: %+v", counts)
	}
	msk := regs.Funnel.Location
	midnight := time.Date(2026, 11, 23, 0, 0, 0, 0, msk)
	for _, p := range []struct {
		name     string
		from, to time.Time
		now      time.Time
	}{
		{"this week, not over", midnight.AddDate(0, 0, -6), midnight.AddDate(0, 0, 1), now},
		{"last week", midnight.AddDate(0, 0, -13), midnight.AddDate(0, 0, -6), now},
		{"a day", midnight.AddDate(0, 0, -3), midnight.AddDate(0, 0, -2), now},
		{"a month off midnight", now.Add(-30*24*time.Hour - 90*time.Minute), now.Add(-90 * time.Minute), now},
		{"the last 7 days, no now", now.Add(-7 * 24 * time.Hour), now, time.Time{}},
	} {
		err := store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
			grouped, err := report.Quality(ctx, tx, &regs.Funnel, p.from, p.to, p.now)
			if err != nil {
				return err
			}
			scanned, err := report.Quality(ctx, scanOnly{tx}, &regs.Funnel, p.from, p.to, p.now)
			if err != nil {
				return err
			}
			if grouped.Totals.Violations == 0 || grouped.Totals.Open == 0 {
				t.Errorf("%s: an empty report compares nothing: %+v", p.name, grouped.Totals)
			}
			if !reflect.DeepEqual(grouped, scanned) {
				t.Errorf("%s: grouped\n%+v\nscanned\n%+v", p.name, grouped, scanned)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
