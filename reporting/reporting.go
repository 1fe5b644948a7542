// Package reporting makes the daily and weekly quality reports that go to
// the head of sales (seed 000: «Раз в неделю в телеграм-чат приходит отчет
// по контролю качества»): the figures of package report for a period, the
// worst deals, the recommendations and PNG charts, rendered as a Telegram
// message with photos and as an HTML e-mail; and their schedule.
package reporting

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/report"
)

// Report is one quality report, ready to render.
type Report struct {
	Company string
	Period  string // "week", "day" or "period"
	Quality *report.QualityReport
	Worst   []WorstDeal
	// Recommendations are what to do about the most frequent rules, in
	// Russian.
	Recommendations []string
	// RuleTitles names the most frequent rules (ByRule's first topRules).
	RuleTitles map[string]string
	loc        *time.Location
}

// WorstDeal is a deal with the most money at risk among the open findings
// at the period's end.
type WorstDeal struct {
	ID          string
	Name        string
	Stage       string // the stage's name
	Responsible string // the manager's name
	MoneyAtRisk float64
	Rules       []string // what is wrong, in Russian
}

// How many deals and rules a report lists.
const (
	worstDeals = 5
	topRules   = 5
)

// Build reads the report of [from, to) from the store at now.
func Build(ctx context.Context, tx funnelwatch.ReadTx, regs *regulations.Regulations, period string, from, to, now time.Time) (*Report, error) {
	q, err := report.Quality(ctx, tx, &regs.Funnel, from, to, now)
	if err != nil {
		return nil, err
	}
	loc := regs.Location
	if loc == nil {
		loc = time.UTC
	}
	r := &Report{Company: regs.Company, Period: period, Quality: q, loc: loc}
	at := to
	if !now.IsZero() && now.Before(to) {
		at = now
	}
	open, err := tx.Violations(ctx, funnelwatch.ViolationFilter{OpenAt: at})
	if err != nil {
		return nil, err
	}
	byDeal := map[string]*WorstDeal{}
	for _, v := range open {
		if v.DealID == "" || v.Severity != funnelwatch.SeverityViolation {
			continue
		}
		w := byDeal[v.DealID]
		if w == nil {
			w = &WorstDeal{ID: v.DealID}
			byDeal[v.DealID] = w
		}
		// A deal's money counts once: its largest figure, as the quality
		// report counts a deal once per line.
		w.MoneyAtRisk = math.Max(w.MoneyAtRisk, v.MoneyAtRisk)
		if name := ruleName(v); !slices.Contains(w.Rules, name) {
			w.Rules = append(w.Rules, name)
		}
	}
	worst := make([]*WorstDeal, 0, len(byDeal))
	for _, w := range byDeal {
		worst = append(worst, w)
	}
	slices.SortFunc(worst, func(a, b *WorstDeal) int {
		if a.MoneyAtRisk != b.MoneyAtRisk {
			if a.MoneyAtRisk > b.MoneyAtRisk {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	worst = worst[:min(len(worst), worstDeals)]
	if len(worst) > 0 {
		ids := make([]string, len(worst))
		for i, w := range worst {
			ids[i] = w.ID
		}
		deals, err := tx.Deals(ctx, funnelwatch.DealFilter{IDs: ids, IncludeDeleted: true})
		if err != nil {
			return nil, err
		}
		byID := map[string]*funnelwatch.Deal{}
		for _, d := range deals {
			byID[d.ID] = d
		}
		for _, w := range worst {
			w.Name = w.ID
			if d := byID[w.ID]; d != nil {
				if d.Name != "" {
					w.Name = d.Name
				}
				if st, ok := regs.ResolveStage("", d.Pipeline+"/"+d.Stage); ok {
					w.Stage = st.Name
				}
				w.Responsible = regs.UserName(d.Responsible)
			}
			r.Worst = append(r.Worst, *w)
		}
	}
	// The most frequent rules by name (an expression rule's is its own
	// message) and, for the first three, what to do — as the findings
	// carry it (the file may have its own words).
	r.RuleTitles = map[string]string{}
	for i, row := range q.ByRule[:min(topRules, len(q.ByRule))] {
		vs, err := tx.Violations(ctx, funnelwatch.ViolationFilter{Rule: row.Rule, From: from, To: to, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(vs) == 0 {
			continue
		}
		r.RuleTitles[row.Rule] = ruleName(vs[0])
		if i < 3 && vs[0].Recommendation.RU != "" {
			r.Recommendations = append(r.Recommendations, ruleName(vs[0])+": "+vs[0].Recommendation.RU)
		}
	}
	return r, nil
}

// ruleName is what a finding's rule is called in a report: the
// catalogue's message (an expression rule's own).
func ruleName(v *funnelwatch.Violation) string {
	if t, ok := engine.Catalogue[v.Rule]; ok && v.Rule != regulations.RuleAnomaly {
		return t.Message.RU
	}
	if v.Message.RU != "" {
		return v.Message.RU
	}
	return v.Rule
}

// ParsePeriod reads a report period: last-week (Monday to Monday before
// this week), this-week (Monday to now), yesterday, today, last-7-days, or
// FROM..TO as dates (TO included), in the company's timezone.
func ParsePeriod(s string, now time.Time, loc *time.Location) (name string, from, to time.Time, err error) {
	now = now.In(loc)
	day := func(t time.Time, add int) time.Time {
		y, m, d := t.Date()
		return time.Date(y, m, d+add, 0, 0, 0, 0, loc)
	}
	monday := day(now, -((int(now.Weekday()) + 6) % 7))
	switch s {
	case "last-week", "":
		return "week", monday.AddDate(0, 0, -7), monday, nil
	case "this-week":
		return "week", monday, now, nil
	case "yesterday":
		return "day", day(now, -1), day(now, 0), nil
	case "today":
		return "day", day(now, 0), now, nil
	case "last-7-days":
		return "period", now.AddDate(0, 0, -7), now, nil
	}
	a, b, ok := strings.Cut(s, "..")
	if ok {
		f, err1 := time.ParseInLocation("2006-01-02", a, loc)
		t, err2 := time.ParseInLocation("2006-01-02", b, loc)
		if err1 == nil && err2 == nil && !t.Before(f) {
			return "period", f, t.AddDate(0, 0, 1), nil
		}
	}
	return "", time.Time{}, time.Time{}, fmt.Errorf("bad period %q: last-week, this-week, yesterday, today, last-7-days or 2026-11-16..2026-11-22", s)
}
