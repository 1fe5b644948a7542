// Package report computes the reports of the product from the store's
// figures. The API and the pages both take their numbers from here, so a
// page and the API never disagree (DESIGN §4.2).
package report

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// MaxPeriod is the longest period a quality report covers: a year (a
// leap one too). It bounds the day-by-day list.
const MaxPeriod = 366 * 24 * time.Hour

// QualityReport is the quality report of a period [From, To), in all, by
// stage, by manager, by rule and by day, beside the same totals for the
// period of equal length just before (week over week). Its figures are of
// two kinds:
//
//   - the flow of the period: the findings opened in it (violations,
//     remarks, the figures per 100 active deals, shares, deals affected,
//     the days), each finding in the one period it opened in;
//   - the stock at its end: the findings open at To, whenever they opened
//     (open, money at risk) — at the present for a period not over yet.
//
// A line of by_stage, by_manager or by_rule is there when the flow or the
// stock has a finding for it, so a manager with only an older finding
// still open has a line with no violations and an open one.
type QualityReport struct {
	From      time.Time    `json:"from"`
	To        time.Time    `json:"to"`
	Totals    Totals       `json:"totals"`
	Previous  Totals       `json:"previous"`
	ByStage   []StageRow   `json:"by_stage"`
	ByManager []ManagerRow `json:"by_manager"`
	ByRule    []RuleRow    `json:"by_rule"`
	ByDay     []DayRow     `json:"by_day"`
}

// Counts are the figures every group of findings has.
type Counts struct {
	// Violations and Remarks count the findings of the group opened in
	// the period, by severity.
	Violations int `json:"violations"`
	Remarks    int `json:"remarks"`
	// Open counts the findings of the group open at the period's end (at
	// the present when it has not ended), whenever they opened.
	Open int `json:"open"`
	// MoneyAtRisk sums, over the distinct deals with a finding of the
	// group open at the period's end, the largest money at risk of that
	// deal's findings in the group open then: a deal counts once,
	// however many findings it has. In roubles, rounded to kopecks.
	MoneyAtRisk float64 `json:"money_at_risk"`
}

// Totals are the figures of the whole period.
type Totals struct {
	Violations int `json:"violations"`
	Remarks    int `json:"remarks"`
	Open       int `json:"open"`
	// DealsAffected is the number of distinct deals with a finding opened
	// in the period.
	DealsAffected int     `json:"deals_affected"`
	MoneyAtRisk   float64 `json:"money_at_risk"`
	// ActiveDeals is the number of deals open at some moment of the
	// period; Per100ActiveDeals is Violations × 100 / ActiveDeals and
	// RemarksPer100ActiveDeals Remarks × 100 / ActiveDeals (0 when there
	// were none).
	ActiveDeals              int     `json:"active_deals"`
	Per100ActiveDeals        float64 `json:"per_100_active_deals"`
	RemarksPer100ActiveDeals float64 `json:"remarks_per_100_active_deals"`
}

// StageRow is a stage's figures: the stage the deal was on when the
// finding opened. Findings about no deal have an empty pipeline and stage.
type StageRow struct {
	Pipeline string `json:"pipeline"`
	Stage    string `json:"stage"`
	Name     string `json:"name"` // from the regulations; the id when unknown there
	Counts
}

// ManagerRow is a manager's figures: the user accountable for the
// findings, or responsible for active deals. Findings nobody is
// accountable for (a deal without a responsible) have an empty user.
type ManagerRow struct {
	User string `json:"user"`
	Name string `json:"name"` // from the regulations; the id when unknown there
	Counts
	// Share is the manager's violations / all violations of the period
	// (0 when there are none): 0.25 is a quarter.
	Share                    float64 `json:"share"`
	ActiveDeals              int     `json:"active_deals"`
	Per100ActiveDeals        float64 `json:"per_100_active_deals"`
	RemarksPer100ActiveDeals float64 `json:"remarks_per_100_active_deals"`
}

// RuleRow is a quality rule's figures.
type RuleRow struct {
	Rule string `json:"rule"`
	// Severity is the severity of the rule's latest finding on the line
	// (a rule has one, unless the regulations changed it).
	Severity funnelwatch.Severity `json:"severity"`
	Counts
}

// DayRow counts the findings opened on a day of the period, a date in
// the workspace's timezone.
type DayRow struct {
	Date       string `json:"date"` // 2026-11-02
	Violations int    `json:"violations"`
	Remarks    int    `json:"remarks"`
}

// Quality computes the quality report of [from, to) from the store's
// findings and active deals. now is the present: the stock of a period
// that ends after it is taken at now, not at a moment yet to come (a zero
// now takes it at the period's end). The funnel gives the names of stages
// and users and the timezone of the days (UTC when it has none); it may be
// nil. A period that is empty, reversed or longer than MaxPeriod is an
// EINVALID error.
func Quality(ctx context.Context, tx funnelwatch.ReadTx, f *funnelwatch.Funnel, from, to, now time.Time) (*QualityReport, error) {
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	loc := location(f)
	r := &QualityReport{From: from.In(loc), To: to.In(loc)}

	days := dayBounds(from, to, loc)
	cur, err := read(ctx, tx, from, to, now, days)
	if err != nil {
		return nil, err
	}
	prev, err := read(ctx, tx, from.Add(-to.Sub(from)), from, now, nil)
	if err != nil {
		return nil, err
	}
	r.Totals = totals(cur)
	r.Previous = totals(prev)
	r.ByStage = byStage(cur, f)
	r.ByManager = byManager(cur, f, r.Totals.Violations)
	if r.ByRule, err = byRule(ctx, tx, cur); err != nil {
		return nil, err
	}
	r.ByDay = byDay(cur.flow, days, loc)
	return r, nil
}

// period is what the store says of a period, in groups of findings
// counted in SQL (a finding's row is never read): its flow, its stock and
// its active deals.
type period struct {
	from, to, end time.Time
	flow          []funnelwatch.ViolationGroup // opened in [from, to), by day
	stock         []funnelwatch.ViolationGroup // open at end = min(to, now), by deal
	deals         int                          // distinct deals of the flow
	active        funnelwatch.ActiveDeals
}

func read(ctx context.Context, tx funnelwatch.ReadTx, from, to, now time.Time, days []time.Time) (period, error) {
	p := period{from: from, to: to, end: to}
	var err error
	flow := funnelwatch.ViolationFilter{From: from, To: to}
	if p.flow, err = funnelwatch.GroupViolations(ctx, tx, flow, funnelwatch.ViolationGrouping{Days: days}); err != nil {
		return p, err
	}
	if p.deals, err = funnelwatch.CountViolationDeals(ctx, tx, flow); err != nil {
		return p, err
	}
	if !now.IsZero() && now.Before(to) {
		p.end = now
	}
	if p.stock, err = funnelwatch.GroupViolations(ctx, tx, funnelwatch.ViolationFilter{OpenAt: p.end}, funnelwatch.ViolationGrouping{ByDeal: true}); err != nil {
		return p, err
	}
	if p.active, err = tx.ActiveDeals(ctx, from, to); err != nil {
		return p, err
	}
	return p, nil
}

// tally accumulates the counts of a group of findings.
type tally struct {
	Counts
	risk map[string]float64 // deal → the largest money at risk of its findings in the stock
}

// opened counts findings of the flow.
func (t *tally) opened(g *funnelwatch.ViolationGroup) {
	switch g.Severity {
	case funnelwatch.SeverityRemark:
		t.Remarks += g.Findings
	default:
		// An unknown severity weighs as a violation: the regulations
		// default, and the safer side for a head of sales.
		t.Violations += g.Findings
	}
}

// open counts findings of the stock (a group of one deal).
func (t *tally) open(g *funnelwatch.ViolationGroup) {
	t.Open += g.Findings
	if g.DealID == "" {
		return // no deal, no money
	}
	if t.risk == nil {
		t.risk = map[string]float64{}
	}
	if m, ok := t.risk[g.DealID]; !ok || g.MaxMoneyAtRisk > m {
		t.risk[g.DealID] = g.MaxMoneyAtRisk
	}
}

// counts returns the group's counts with the money at risk summed.
func (t *tally) counts() Counts {
	c := t.Counts
	// Sum in a fixed order so the same findings give the same figure to
	// the last kopeck.
	deals := make([]string, 0, len(t.risk))
	for d := range t.risk {
		deals = append(deals, d)
	}
	slices.Sort(deals)
	for _, d := range deals {
		c.MoneyAtRisk += t.risk[d]
	}
	c.MoneyAtRisk = roundKopecks(c.MoneyAtRisk)
	return c
}

func roundKopecks(x float64) float64 { return math.Round(x*100) / 100 }

// per100 is n per 100 active deals, 0 when there were none.
func per100(n, active int) float64 {
	if active == 0 {
		return 0
	}
	return float64(n) * 100 / float64(active)
}

func totals(p period) Totals {
	var all tally
	for i := range p.flow {
		all.opened(&p.flow[i])
	}
	for i := range p.stock {
		all.open(&p.stock[i])
	}
	c := all.counts()
	return Totals{Violations: c.Violations, Remarks: c.Remarks, Open: c.Open, DealsAffected: p.deals,
		MoneyAtRisk: c.MoneyAtRisk, ActiveDeals: p.active.Total, Per100ActiveDeals: per100(c.Violations, p.active.Total),
		RemarksPer100ActiveDeals: per100(c.Remarks, p.active.Total)}
}

// group tallies the flow and the stock by a key: a key of either has a
// tally, so every group of the flow or the stock is on a line.
func group[K comparable](p period, key func(*funnelwatch.ViolationGroup) K) map[K]*tally {
	m := map[K]*tally{}
	get := func(g *funnelwatch.ViolationGroup) *tally {
		k := key(g)
		t := m[k]
		if t == nil {
			t = &tally{}
			m[k] = t
		}
		return t
	}
	for i := range p.flow {
		get(&p.flow[i]).opened(&p.flow[i])
	}
	for i := range p.stock {
		get(&p.stock[i]).open(&p.stock[i])
	}
	return m
}

// byViolations orders rows by violations, most first, then by key.
func byViolations[T any](rows []T, counts func(T) Counts, key func(a, b T) int) {
	slices.SortFunc(rows, func(a, b T) int {
		if c := cmp.Compare(counts(b).Violations, counts(a).Violations); c != 0 {
			return c
		}
		return key(a, b)
	})
}

func byStage(p period, f *funnelwatch.Funnel) []StageRow {
	type key struct{ pipeline, stage string }
	rows := []StageRow{}
	for k, t := range group(p, func(g *funnelwatch.ViolationGroup) key { return key{g.Pipeline, g.Stage} }) {
		rows = append(rows, StageRow{Pipeline: k.pipeline, Stage: k.stage, Name: stageName(f, k.pipeline, k.stage), Counts: t.counts()})
	}
	byViolations(rows, func(r StageRow) Counts { return r.Counts }, func(a, b StageRow) int {
		return cmp.Or(cmp.Compare(a.Pipeline, b.Pipeline), cmp.Compare(a.Stage, b.Stage))
	})
	return rows
}

func byManager(p period, f *funnelwatch.Funnel, all int) []ManagerRow {
	tallies := group(p, func(g *funnelwatch.ViolationGroup) string { return g.User })
	// A manager with active deals and no finding is listed too: a clean
	// record is a figure the head of sales wants to see.
	for u := range p.active.ByResponsible {
		if tallies[u] == nil {
			tallies[u] = &tally{}
		}
	}
	rows := []ManagerRow{}
	for u, t := range tallies {
		c := t.counts()
		active := p.active.ByResponsible[u]
		row := ManagerRow{User: u, Name: f.UserName(u), Counts: c, ActiveDeals: active,
			Per100ActiveDeals: per100(c.Violations, active), RemarksPer100ActiveDeals: per100(c.Remarks, active)}
		if all > 0 {
			row.Share = float64(c.Violations) / float64(all)
		}
		rows = append(rows, row)
	}
	byViolations(rows, func(r ManagerRow) Counts { return r.Counts }, func(a, b ManagerRow) int { return cmp.Compare(a.User, b.User) })
	return rows
}

func byRule(ctx context.Context, tx funnelwatch.ReadTx, p period) ([]RuleRow, error) {
	// The severity of the rule's latest finding on its line, of the flow
	// or the stock (which may hold the same finding): that of the group
	// opened latest, unless groups of two severities share that instant,
	// when the findings of that instant decide by id.
	type latest struct {
		at       time.Time
		severity funnelwatch.Severity
		tie      bool
	}
	last := map[string]*latest{}
	for _, gs := range [][]funnelwatch.ViolationGroup{p.flow, p.stock} {
		for _, g := range gs {
			l := last[g.Rule]
			switch {
			case l == nil || g.LatestOpenedAt.After(l.at):
				last[g.Rule] = &latest{at: g.LatestOpenedAt, severity: g.Severity}
			case g.LatestOpenedAt.Equal(l.at) && g.Severity != l.severity:
				l.tie = true
			}
		}
	}
	rows := []RuleRow{}
	for rule, t := range group(p, func(g *funnelwatch.ViolationGroup) string { return g.Rule }) {
		l := last[rule]
		if l.tie {
			var err error
			if l.severity, err = latestSeverity(ctx, tx, p, rule, l.at); err != nil {
				return nil, err
			}
		}
		rows = append(rows, RuleRow{Rule: rule, Severity: l.severity, Counts: t.counts()})
	}
	byViolations(rows, func(r RuleRow) Counts { return r.Counts }, func(a, b RuleRow) int { return cmp.Compare(a.Rule, b.Rule) })
	return rows, nil
}

// latestSeverity is the severity of the rule's finding of the period's
// flow or stock opened at the instant with the greatest id.
func latestSeverity(ctx context.Context, tx funnelwatch.ReadTx, p period, rule string, at time.Time) (funnelwatch.Severity, error) {
	vs, err := tx.Violations(ctx, funnelwatch.ViolationFilter{Rule: rule, From: at, To: at.Add(time.Microsecond)})
	if err != nil {
		return "", err
	}
	var best *funnelwatch.Violation
	for _, v := range vs {
		inFlow := !v.OpenedAt.Before(p.from) && v.OpenedAt.Before(p.to)
		inStock := !v.OpenedAt.After(p.end) && (v.ResolvedAt == nil || v.ResolvedAt.After(p.end))
		if (inFlow || inStock) && (best == nil || v.ID > best.ID) {
			best = v
		}
	}
	if best == nil {
		return "", nil
	}
	return best.Severity, nil
}

// dayBounds are the starts of the days of [from, to) in loc, and the
// start of the day after the last: the flow is counted by these days.
func dayBounds(from, to time.Time, loc *time.Location) []time.Time {
	var out []time.Time
	last := to.Add(-time.Nanosecond).In(loc)
	end := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, loc)
	f := from.In(loc)
	d := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	for ; !d.After(end); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc) {
		out = append(out, d)
	}
	return append(out, d)
}

// byDay lists every day of the period (days: their starts and the next
// day's), with the findings of the flow on the day they opened.
func byDay(flow []funnelwatch.ViolationGroup, days []time.Time, loc *time.Location) []DayRow {
	rows := make([]DayRow, 0, len(days))
	for _, d := range days[:len(days)-1] {
		rows = append(rows, DayRow{Date: d.In(loc).Format(time.DateOnly)})
	}
	for _, g := range flow {
		if g.Day < 0 || g.Day >= len(rows) {
			continue // the store's flow is within the period; a day outside it has no row
		}
		if g.Severity == funnelwatch.SeverityRemark {
			rows[g.Day].Remarks += g.Findings
		} else {
			rows[g.Day].Violations += g.Findings
		}
	}
	return rows
}

func stageName(f *funnelwatch.Funnel, pipeline, stage string) string {
	if f != nil {
		if p, ok := f.Pipeline(pipeline); ok {
			if s, ok := p.Stage(stage); ok && s.Name != "" {
				return s.Name
			}
		}
	}
	return stage
}
