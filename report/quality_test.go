package report_test

import (
	"cmp"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
)

var msk = time.FixedZone("MSK", 3*3600)

func at(month time.Month, day, hour, min int) time.Time {
	return time.Date(2026, month, day, hour, min, 0, 0, msk)
}

func ptr[T any](v T) *T { return &v }

// fakeTx answers the two reads a quality report makes. Violations
// selects as the stores do — From and To: opened in [From, To); OpenAt:
// opened at or before it and not resolved by then — and records the
// instants of the stock it was asked for.
type fakeTx struct {
	funnelwatch.ReadTx // nil: nothing else is called
	findings           []*funnelwatch.Violation
	active             map[int64]funnelwatch.ActiveDeals // by the period's start, Unix seconds
	openAt             []time.Time
}

func (tx *fakeTx) Violations(_ context.Context, f funnelwatch.ViolationFilter) ([]*funnelwatch.Violation, error) {
	if !f.OpenAt.IsZero() {
		tx.openAt = append(tx.openAt, f.OpenAt)
	}
	var out []*funnelwatch.Violation
	for _, v := range tx.findings {
		if !f.From.IsZero() && v.OpenedAt.Before(f.From) || !f.To.IsZero() && !v.OpenedAt.Before(f.To) {
			continue
		}
		if !f.OpenAt.IsZero() && (v.OpenedAt.After(f.OpenAt) || v.ResolvedAt != nil && !v.ResolvedAt.After(f.OpenAt)) {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *funnelwatch.Violation) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (tx *fakeTx) ActiveDeals(_ context.Context, from, _ time.Time) (funnelwatch.ActiveDeals, error) {
	return tx.active[from.Unix()], nil
}

func testFunnel() *funnelwatch.Funnel {
	return &funnelwatch.Funnel{
		Location: msk,
		Users: []funnelwatch.User{
			{ID: "roman", Name: "Роман"}, {ID: "olga", Name: "Ольга"}, {ID: "sergey", Name: "Сергей"},
		},
		Pipelines: []funnelwatch.Pipeline{{ID: "sales", Name: "Основная воронка", Stages: []funnelwatch.Stage{
			{ID: "target", Pipeline: "sales", Name: "Целевой клиент"},
			{ID: "contact", Pipeline: "sales", Name: "Контакт установлен"},
			{ID: "ready", Pipeline: "sales", Name: "Готов к выдаче"},
		}}},
	}
}

// finding is a finding of the fixture; resolved is nil while open.
func finding(id, rule string, sev funnelwatch.Severity, deal, user, stage string, opened time.Time, resolved *time.Time, amount, rate float64) *funnelwatch.Violation {
	return &funnelwatch.Violation{ID: id, Rule: rule, Severity: sev, DealID: deal, User: user, Pipeline: "sales", Stage: stage,
		OpenedAt: opened, ResolvedAt: resolved, Amount: amount, WinRate: rate, MoneyAtRisk: amount * rate}
}

const (
	vio = funnelwatch.SeverityViolation
	rem = funnelwatch.SeverityRemark
)

// The week of Monday 2 November 2026 in Moscow, and what was found, in
// opening order:
//
//	V9  no_next_step  violation D7 sergey sales/ready   19.10 10:00 open                money 6 000 (stuck for weeks)
//	V7  no_next_step  violation D6 roman  sales/ready   20.10 12:00, resolved 21.10 12:00     1 000
//	V6  overdue_task  violation D2 olga   sales/target  27.10 10:00, resolved 28.10 10:00     2 000
//	V5  no_next_step  violation D4 roman  sales/contact 30.10 10:00 open                      8 000
//	V10 overdue_task  violation D2 olga   sales/contact 31.10 15:00, resolved 04.11 18:00     4 000
//	V4  overdue_task  violation D3 olga   sales/contact 03.11 01:30 (02.11 22:30 UTC), resolved 03.11 05:00  5 000
//	V1  no_next_step  violation D1 roman  sales/target  03.11 10:00 open                     10 000
//	V2  overdue_task  violation D1 roman  sales/target  04.11 12:00 open                     12 000 (D1's amount grew)
//	V3  empty_comment remark    D2 olga   sales/contact 05.11 09:00 open                      3 000
//	V8  no_next_step  violation D2 olga   sales/contact 09.11 00:00 open (the instant the week ends) 2 000
var (
	weekFrom, weekTo = at(time.November, 2, 0, 0), at(time.November, 9, 0, 0)
	prevFrom         = at(time.October, 26, 0, 0)
	fixture          = []*funnelwatch.Violation{
		finding("V1", "no_next_step", vio, "D1", "roman", "target", at(time.November, 3, 10, 0), nil, 20000, 0.5),
		finding("V2", "overdue_task", vio, "D1", "roman", "target", at(time.November, 4, 12, 0), nil, 24000, 0.5),
		finding("V3", "empty_comment", rem, "D2", "olga", "contact", at(time.November, 5, 9, 0), nil, 10000, 0.3),
		finding("V4", "overdue_task", vio, "D3", "olga", "contact", at(time.November, 3, 1, 30), ptr(at(time.November, 3, 5, 0)), 10000, 0.5),
		finding("V5", "no_next_step", vio, "D4", "roman", "contact", at(time.October, 30, 10, 0), nil, 16000, 0.5),
		finding("V6", "overdue_task", vio, "D2", "olga", "target", at(time.October, 27, 10, 0), ptr(at(time.October, 28, 10, 0)), 4000, 0.5),
		finding("V7", "no_next_step", vio, "D6", "roman", "ready", at(time.October, 20, 12, 0), ptr(at(time.October, 21, 12, 0)), 2000, 0.5),
		finding("V8", "no_next_step", vio, "D2", "olga", "contact", at(time.November, 9, 0, 0), nil, 10000, 0.2),
		finding("V9", "no_next_step", vio, "D7", "sergey", "ready", at(time.October, 19, 10, 0), nil, 30000, 0.2),
		finding("V10", "overdue_task", vio, "D2", "olga", "contact", at(time.October, 31, 15, 0), ptr(at(time.November, 4, 18, 0)), 10000, 0.4),
	}
	// Deals open at some moment of each week: D1 and D4 roman, D2 and D3
	// olga, D5 and D7 sergey this week; D1, D4, D2 and D7 the week before.
	activeDeals = map[int64]funnelwatch.ActiveDeals{
		weekFrom.Unix(): {Total: 6, ByResponsible: map[string]int{"roman": 2, "olga": 2, "sergey": 2}},
		prevFrom.Unix(): {Total: 4, ByResponsible: map[string]int{"roman": 2, "olga": 1, "sergey": 1}},
	}
)

// theWeek is the quality report of the week, the clock at its end, worked
// by hand.
var theWeek = &report.QualityReport{
	From: weekFrom, To: weekTo,
	// The flow: opened in the week are V4, V1, V2 (violations) and V3
	// (a remark), on deals D3, D1, D1, D2: 3 deals. V8 opened the instant
	// the week ended, in the next one; V5, V9 and V10 before it.
	// 3 × 100 / 6 active deals = 50 violations and 1 × 100 / 6 remarks
	// per 100.
	// The stock at 09.11 00:00: open then are V9, V5, V1, V2, V3 and V8
	// (opened at that very instant) = 6; V4 and V10 were resolved during
	// the week. Money: D7 6 000 + D4 8 000 + D1 once at max(10 000,
	// 12 000) + D2 once at max(3 000, 2 000) = 29 000.
	Totals: report.Totals{Violations: 3, Remarks: 1, Open: 6, DealsAffected: 3, MoneyAtRisk: 29000,
		ActiveDeals: 6, Per100ActiveDeals: 50, RemarksPer100ActiveDeals: 100.0 / 6},
	// The week before, 26.10–02.11: opened V6, V5, V10, all violations,
	// on D2 and D4; 3 × 100 / 4 = 75. Open at 02.11 00:00: V9, V5 and V10
	// (resolved only on the 4th): D7 6 000 + D4 8 000 + D2 4 000 =
	// 18 000. V9, open all along, is in neither week's flow.
	Previous: report.Totals{Violations: 3, Open: 3, DealsAffected: 2, MoneyAtRisk: 18000,
		ActiveDeals: 4, Per100ActiveDeals: 75},
	// target: opened V1 V2, open V1 V2 (D1 once, 12 000). contact:
	// opened V4 and the remark V3; open V5, V3, V8 (D4 8 000 + D2 once
	// at max(3 000, 2 000)).
	// ready: nothing opened, V9 open (D7 6 000). By violations: 2, 1, 0.
	// Violations 2+1+0 = 3, remarks 0+1+0 = 1, open 2+3+1 = 6.
	ByStage: []report.StageRow{
		{Pipeline: "sales", Stage: "target", Name: "Целевой клиент", Counts: report.Counts{Violations: 2, Open: 2, MoneyAtRisk: 12000}},
		{Pipeline: "sales", Stage: "contact", Name: "Контакт установлен", Counts: report.Counts{Violations: 1, Remarks: 1, Open: 3, MoneyAtRisk: 11000}},
		{Pipeline: "sales", Stage: "ready", Name: "Готов к выдаче", Counts: report.Counts{Open: 1, MoneyAtRisk: 6000}},
	},
	// roman: opened V1 V2, 2 of the 3 violations, 2 × 100 / 2 deals;
	// open V5 V1 V2 (D4 8 000 + D1 12 000). olga: opened V4 and the
	// remark V3, 1 × 100 / 2 each; open V3 V8 (D2 at max(3 000, 2 000)
	// = 3 000, though V8 opened later). sergey: nothing
	// opened this week, but V9 still open (D7 6 000): his line is there
	// with no violation and one open.
	ByManager: []report.ManagerRow{
		{User: "roman", Name: "Роман", Counts: report.Counts{Violations: 2, Open: 3, MoneyAtRisk: 20000}, Share: 2.0 / 3,
			ActiveDeals: 2, Per100ActiveDeals: 100},
		{User: "olga", Name: "Ольга", Counts: report.Counts{Violations: 1, Remarks: 1, Open: 2, MoneyAtRisk: 3000}, Share: 1.0 / 3,
			ActiveDeals: 2, Per100ActiveDeals: 50, RemarksPer100ActiveDeals: 50},
		{User: "sergey", Name: "Сергей", Counts: report.Counts{Open: 1, MoneyAtRisk: 6000}, ActiveDeals: 2},
	},
	// overdue_task: opened V4 V2, open V2 (D1 12 000). no_next_step:
	// opened V1; open V9 V5 V1 V8 (D7 6 000 + D4 8 000 + D1 10 000 + D2
	// 2 000 = 26 000). empty_comment: the remark V3, open (D2 3 000).
	// D1 is on two rules' lines, once on each.
	ByRule: []report.RuleRow{
		{Rule: "overdue_task", Severity: vio, Counts: report.Counts{Violations: 2, Open: 1, MoneyAtRisk: 12000}},
		{Rule: "no_next_step", Severity: vio, Counts: report.Counts{Violations: 1, Open: 4, MoneyAtRisk: 26000}},
		{Rule: "empty_comment", Severity: rem, Counts: report.Counts{Remarks: 1, Open: 1, MoneyAtRisk: 3000}},
	},
	// The flow by Moscow date of opening: V4 (the 2nd in UTC) and V1 on
	// the 3rd, V2 the 4th, V3 the 5th.
	ByDay: []report.DayRow{
		{Date: "2026-11-02"}, {Date: "2026-11-03", Violations: 2}, {Date: "2026-11-04", Violations: 1},
		{Date: "2026-11-05", Remarks: 1}, {Date: "2026-11-06"}, {Date: "2026-11-07"}, {Date: "2026-11-08"},
	},
}

func TestQuality(t *testing.T) {
	// Asked at the end of the week or days later, the report is the
	// same: the stock is taken at the week's end either way.
	for _, now := range []time.Time{weekTo, weekTo.AddDate(0, 0, 3)} {
		tx := &fakeTx{findings: fixture, active: activeDeals}
		got, err := report.Quality(context.Background(), tx, testFunnel(), weekFrom.UTC(), weekTo.UTC(), now)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(jsonOf(t, got), jsonOf(t, theWeek)) {
			t.Errorf("now %s: report\n got %s\nwant %s", now, jsonOf(t, got), jsonOf(t, theWeek))
		}
		checkSums(t, got)
	}
}

// checkSums checks that every list adds up to the totals' violations,
// remarks and open, and the days to the violations and remarks.
func checkSums(t *testing.T, r *report.QualityReport) {
	t.Helper()
	sum := func(name string, counts []report.Counts) {
		t.Helper()
		var c report.Counts
		for _, x := range counts {
			c.Violations, c.Remarks, c.Open = c.Violations+x.Violations, c.Remarks+x.Remarks, c.Open+x.Open
		}
		if c.Violations != r.Totals.Violations || c.Remarks != r.Totals.Remarks || c.Open != r.Totals.Open {
			t.Errorf("%s add up to %d violations, %d remarks, %d open; totals %+v", name, c.Violations, c.Remarks, c.Open, r.Totals)
		}
	}
	var stages, managers, rules []report.Counts
	for _, x := range r.ByStage {
		stages = append(stages, x.Counts)
	}
	for _, x := range r.ByManager {
		managers = append(managers, x.Counts)
	}
	for _, x := range r.ByRule {
		rules = append(rules, x.Counts)
	}
	sum("stages", stages)
	sum("managers", managers)
	sum("rules", rules)
	var dv, dr int
	for _, d := range r.ByDay {
		dv, dr = dv+d.Violations, dr+d.Remarks
	}
	if dv != r.Totals.Violations || dr != r.Totals.Remarks {
		t.Errorf("days add up to %d violations, %d remarks; totals %+v", dv, dr, r.Totals)
	}
}

func TestQualityStockInstant(t *testing.T) {
	// The stock is taken at the period's end, or at the present when the
	// period has not ended; the previous period's at its own end.
	for _, c := range []struct {
		name string
		now  time.Time
		want []time.Time // this period's stock, then the previous one's
	}{
		{"asked after the week", weekTo.AddDate(0, 1, 0), []time.Time{weekTo, weekFrom}},
		{"asked the instant it ends", weekTo, []time.Time{weekTo, weekFrom}},
		{"asked during the week", at(time.November, 4, 15, 0), []time.Time{at(time.November, 4, 15, 0), weekFrom}},
		{"asked before the week began", at(time.October, 30, 12, 0), []time.Time{at(time.October, 30, 12, 0), at(time.October, 30, 12, 0)}},
		{"no present given", time.Time{}, []time.Time{weekTo, weekFrom}},
	} {
		tx := &fakeTx{findings: fixture, active: activeDeals}
		if _, err := report.Quality(context.Background(), tx, testFunnel(), weekFrom, weekTo, c.now); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(tx.openAt, c.want, time.Time.Equal) {
			t.Errorf("%s: stock taken at %v, want %v", c.name, tx.openAt, c.want)
		}
	}

	// Asked on Wednesday 4 November at 15:00, the fake store knowing the
	// rest of the week: open then are V9, V5, V10 (resolved only at
	// 18:00), V1 and V2 (opened at noon) = 5; money D7 6 000 + D4 8 000 +
	// D2 4 000 + D1 12 000 = 30 000. The flow is the week's all the same.
	tx := &fakeTx{findings: fixture, active: activeDeals}
	got, err := report.Quality(context.Background(), tx, testFunnel(), weekFrom, weekTo, at(time.November, 4, 15, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got.Totals.Open != 5 || got.Totals.MoneyAtRisk != 30000 || got.Totals.Violations != 3 || got.Previous != theWeek.Previous {
		t.Errorf("asked midweek: totals %+v, previous %+v", got.Totals, got.Previous)
	}
	checkSums(t, got)
}

func TestQualityWeekOverWeek(t *testing.T) {
	// Week after week from 12 October to 16 November, each finding is in
	// the flow of the one week it opened in — V9, stuck since 19 October,
	// counts once, not in every week it stayed open — and in the stock of
	// every week's end it was open at.
	var opened, sergeyViolations, sergeyOpen []int
	for from := at(time.October, 12, 0, 0); from.Before(at(time.November, 16, 0, 0)); from = from.AddDate(0, 0, 7) {
		to := from.AddDate(0, 0, 7)
		got, err := report.Quality(context.Background(), &fakeTx{findings: fixture}, testFunnel(), from, to, at(time.November, 20, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		checkSums(t, got)
		opened = append(opened, got.Totals.Violations+got.Totals.Remarks)
		var v, o int
		for _, m := range got.ByManager {
			if m.User == "sergey" {
				v, o = m.Violations, m.Open
			}
		}
		sergeyViolations, sergeyOpen = append(sergeyViolations, v), append(sergeyOpen, o)
	}
	// Weeks of 12.10, 19.10 (V9, V7), 26.10 (V6, V5, V10), 02.11 (V4 V1
	// V2 V3), 09.11 (V8): the 10 findings once each.
	if want := []int{0, 2, 3, 4, 1}; !slices.Equal(opened, want) {
		t.Errorf("findings opened week by week = %v, want %v", opened, want)
	}
	if want := []int{0, 1, 0, 0, 0}; !slices.Equal(sergeyViolations, want) {
		t.Errorf("sergey's violations week by week = %v, want %v", sergeyViolations, want)
	}
	if want := []int{0, 1, 1, 1, 1}; !slices.Equal(sergeyOpen, want) {
		t.Errorf("sergey's open at each week's end = %v, want %v", sergeyOpen, want)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestQualityEmpty(t *testing.T) {
	// A workspace without findings or deals: zeros, not division by zero,
	// empty lists rather than null, and still every day of the period.
	got, err := report.Quality(context.Background(), &fakeTx{}, nil, weekFrom, weekTo, weekTo)
	if err != nil {
		t.Fatal(err)
	}
	if got.Totals != (report.Totals{}) || got.Previous != (report.Totals{}) {
		t.Errorf("totals = %+v, previous = %+v; want zeros", got.Totals, got.Previous)
	}
	if got.ByStage == nil || got.ByManager == nil || got.ByRule == nil || len(got.ByStage)+len(got.ByManager)+len(got.ByRule) != 0 {
		t.Errorf("lists = %v %v %v, want empty", got.ByStage, got.ByManager, got.ByRule)
	}
	// Without a funnel the days are UTC ones: 21:00 UTC on 1 November to
	// 21:00 UTC on 8 November touches eight dates.
	if len(got.ByDay) != 8 || got.ByDay[0].Date != "2026-11-01" || got.ByDay[7].Date != "2026-11-08" {
		t.Errorf("days = %+v", got.ByDay)
	}
}

func TestQualityWithoutNames(t *testing.T) {
	// Ids stand in for names the regulations do not have (a user removed
	// since), findings about no deal count but weigh no money, and money is
	// rounded to kopecks.
	tx := &fakeTx{findings: []*funnelwatch.Violation{
		{ID: "A", Rule: "anomaly", Severity: rem, User: "ivan", OpenedAt: weekFrom, MoneyAtRisk: 500},
		{ID: "B", Rule: "no_next_step", Severity: vio, DealID: "D9", Pipeline: "old", Stage: "gone", OpenedAt: weekFrom, MoneyAtRisk: 1234.5678},
	}}
	got, err := report.Quality(context.Background(), tx, testFunnel(), weekFrom, weekTo, weekTo)
	if err != nil {
		t.Fatal(err)
	}
	if got.Totals.MoneyAtRisk != 1234.57 || got.Totals.DealsAffected != 1 || got.Totals.Open != 2 {
		t.Errorf("totals = %+v", got.Totals)
	}
	if s := got.ByStage; len(s) != 2 || s[0].Stage != "gone" || s[0].Name != "gone" || s[1].Stage != "" || s[1].Name != "" {
		t.Errorf("by stage = %+v", s)
	}
	if m := got.ByManager; len(m) != 2 || m[0].User != "" || m[0].Share != 1 || m[1].User != "ivan" || m[1].Name != "ivan" {
		t.Errorf("by manager = %+v", m)
	}
}

func TestQualityCleanRecord(t *testing.T) {
	// Managers with active deals and no finding, opened or open, are
	// listed with zeros; deals nobody owns are on the line of no user.
	tx := &fakeTx{active: map[int64]funnelwatch.ActiveDeals{
		weekFrom.Unix(): {Total: 3, ByResponsible: map[string]int{"sergey": 2, "": 1}},
	}}
	got, err := report.Quality(context.Background(), tx, testFunnel(), weekFrom, weekTo, weekTo)
	if err != nil {
		t.Fatal(err)
	}
	want := []report.ManagerRow{{User: "", Name: "", ActiveDeals: 1}, {User: "sergey", Name: "Сергей", ActiveDeals: 2}}
	if !reflect.DeepEqual(got.ByManager, want) {
		t.Errorf("by manager = %+v, want %+v", got.ByManager, want)
	}
}

func TestQualitySeverityOfRule(t *testing.T) {
	// A rule made a remark midweek: counted on both sides, shown with the
	// latest severity.
	tx := &fakeTx{findings: []*funnelwatch.Violation{
		{ID: "A", Rule: "slow_response", Severity: vio, OpenedAt: at(time.November, 2, 10, 0)},
		{ID: "B", Rule: "slow_response", Severity: rem, OpenedAt: at(time.November, 4, 10, 0)},
	}}
	got, err := report.Quality(context.Background(), tx, testFunnel(), weekFrom, weekTo, weekTo)
	if err != nil {
		t.Fatal(err)
	}
	if r := got.ByRule; len(r) != 1 || r[0].Severity != rem || r[0].Violations != 1 || r[0].Remarks != 1 {
		t.Errorf("by rule = %+v", r)
	}
}

func TestQualityPartialDays(t *testing.T) {
	// From 15:00 to 09:00 the next morning spans two dates; a period that
	// ends at midnight does not list the day it ends on.
	for _, c := range []struct {
		from, to time.Time
		days     []string
	}{
		{at(time.November, 2, 15, 0), at(time.November, 3, 9, 0), []string{"2026-11-02", "2026-11-03"}},
		{at(time.November, 2, 0, 0), at(time.November, 3, 0, 0), []string{"2026-11-02"}},
		{at(time.November, 2, 23, 59), at(time.November, 3, 0, 0), []string{"2026-11-02"}},
	} {
		got, err := report.Quality(context.Background(), &fakeTx{}, testFunnel(), c.from, c.to, c.to)
		if err != nil {
			t.Fatal(err)
		}
		var days []string
		for _, d := range got.ByDay {
			days = append(days, d.Date)
		}
		if !slices.Equal(days, c.days) {
			t.Errorf("%s – %s: days %v, want %v", c.from, c.to, days, c.days)
		}
	}
}

func TestQualityBadPeriod(t *testing.T) {
	for _, c := range []struct{ from, to time.Time }{
		{weekTo, weekFrom},                             // reversed
		{weekFrom, weekFrom},                           // empty
		{weekFrom, weekFrom.AddDate(0, 0, 367)},        // over a year
		{weekFrom, weekFrom.Add(report.MaxPeriod + 1)}, // just over
	} {
		_, err := report.Quality(context.Background(), &fakeTx{}, nil, c.from, c.to, c.to)
		if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID {
			t.Errorf("%s – %s: %v, want an invalid period", c.from, c.to, err)
		}
	}
	if _, err := report.Quality(context.Background(), &fakeTx{}, nil, weekFrom, weekFrom.Add(report.MaxPeriod), weekTo); err != nil {
		t.Errorf("a period of exactly MaxPeriod: %v", err)
	}
}
