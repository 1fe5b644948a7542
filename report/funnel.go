package report

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// FunnelReport is the funnel report of a pipeline over a period [From,
// To): a line per stage, in stage order (DESIGN §4.2, §6). Its figures
// are of three kinds:
//
//   - the stock now: DealsNow (WIP), whatever the period;
//   - the flow of the period, from the stage visits: entries (stays begun
//     in it), exits (stays ended in it) and the times in stage (of the
//     stays ended in it);
//   - the cohort of the period's entries: which of them went further, by
//     now (conversions);
//   - the same flow and cohort of the period of equal length just before
//     (previous): week over week.
//
// docs/api.md gives every field's meaning.
type FunnelReport struct {
	From     time.Time   `json:"from"`
	To       time.Time   `json:"to"`
	Pipeline string      `json:"pipeline"`
	Name     string      `json:"name"`
	Stages   []FunnelRow `json:"stages"`
}

// FunnelRow is one stage's line.
type FunnelRow struct {
	Stage string                `json:"stage"`
	Name  string                `json:"name"`
	Type  funnelwatch.StageType `json:"type"`
	// DealsNow is the deals on the stage now, not deleted (WIP), and
	// AmountNow their amount.
	DealsNow  int     `json:"deals_now"`
	AmountNow float64 `json:"amount_now"`
	StageFlow
	// SLAHours is the stage's SLA in hours (0: none).
	SLAHours float64 `json:"sla_hours"`
	// WaitDays is Little's law: DealsNow / throughput, the throughput
	// being the period's exits per day — how many days the deals there
	// now will take to leave at the period's pace. 0 when the stage is
	// empty; null when deals are there and none left in the period
	// (Stalled). Bottleneck is WaitDays / the SLA in days: above 1 the
	// stage holds more than it can clear within its SLA. Null without an
	// SLA, or when WaitDays is null. Both null on won and lost stages.
	WaitDays   *float64 `json:"wait_days"`
	Bottleneck *float64 `json:"bottleneck"`
	Stalled    bool     `json:"stalled"`
	// Ladder flags an open stage holding more deals now than the open
	// stage before it: the funnel's ladder is upside down there.
	Ladder bool `json:"ladder"`
	// Previous is the flow of the period of equal length just before
	// (the week before, for a week): the week-over-week comparison.
	Previous StageFlow `json:"previous"`
}

// StageFlow is what passed through a stage in a period.
type StageFlow struct {
	// Entries counts the stays on the stage begun in the period; Exits
	// those ended in it: moved on, back, to another pipeline, closed as
	// won or lost, or deleted.
	Entries int `json:"entries"`
	Exits   int `json:"exits"`
	// ConversionNext is the share of the period's entries whose deal
	// later (by now) reached a later open stage of the pipeline or a won
	// stage, skipping stages or not; ConversionWon the share that reached
	// a won stage. 0 when nothing entered; 0 on won and lost stages.
	ConversionNext float64 `json:"conversion_next"`
	ConversionWon  float64 `json:"conversion_won"`
	// AvgHours and P90Hours are the mean and the 90th percentile (nearest
	// rank) of the time in stage of the stays ended in the period, in
	// hours; stays not ended do not count. 0 when none ended.
	AvgHours float64 `json:"avg_hours"`
	P90Hours float64 `json:"p90_hours"`
}

// Funnel computes the funnel report of the pipeline over [from, to) from
// the stage visits and the deals now. The funnel gives the stages (their
// order, types and SLAs) and names; the pipeline must be in it. A period
// that is empty, reversed or longer than MaxPeriod, or an unknown
// pipeline, is an EINVALID error.
func Funnel(ctx context.Context, tx funnelwatch.ReadTx, f *funnelwatch.Funnel, pipeline string, from, to time.Time) (*FunnelReport, error) {
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "no regulations: the funnel report needs the pipelines")
	}
	p, ok := f.Pipeline(pipeline)
	if !ok {
		return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "unknown pipeline %q", pipeline)
	}
	loc := location(f)
	stages := slices.Clone(p.Stages)
	slices.SortStableFunc(stages, func(a, b funnelwatch.Stage) int { return cmp.Compare(a.Order, b.Order) })
	r := &FunnelReport{From: from.In(loc), To: to.In(loc), Pipeline: p.ID, Name: cmp.Or(p.Name, p.ID), Stages: []FunnelRow{}}
	for _, s := range stages {
		r.Stages = append(r.Stages, FunnelRow{Stage: s.ID, Name: cmp.Or(s.Name, s.ID), Type: s.Type, SLAHours: s.SLA.Hours()})
	}

	counts, err := tx.StageCounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range counts {
		if i := slices.IndexFunc(stages, func(s funnelwatch.Stage) bool { return s.ID == c.Stage }); i >= 0 && c.Pipeline == p.ID {
			r.Stages[i].DealsNow += c.Deals
			r.Stages[i].AmountNow = roundKopecks(r.Stages[i].AmountNow + c.Amount)
		}
	}
	cur, err := stageFlows(ctx, tx, f, p.ID, stages, from, to)
	if err != nil {
		return nil, err
	}
	prev, err := stageFlows(ctx, tx, f, p.ID, stages, from.Add(-to.Sub(from)), from)
	if err != nil {
		return nil, err
	}

	days := to.Sub(from).Hours() / 24
	prevOpen := -1
	for i := range r.Stages {
		row := &r.Stages[i]
		row.StageFlow, row.Previous = cur[i], prev[i]
		if row.Type != funnelwatch.StageOpen {
			continue
		}
		switch {
		case row.DealsNow == 0:
			row.WaitDays = ptr(0.0)
		case row.Exits == 0:
			row.Stalled = true
		default:
			row.WaitDays = ptr(float64(row.DealsNow) / (float64(row.Exits) / days))
		}
		if row.WaitDays != nil && stages[i].SLA > 0 {
			row.Bottleneck = ptr(*row.WaitDays / (stages[i].SLA.Hours() / 24))
		}
		if prevOpen >= 0 && row.DealsNow > r.Stages[prevOpen].DealsNow {
			row.Ladder = true
		}
		prevOpen = i
	}
	return r, nil
}

// stageFlows computes the flow of [from, to) through each of the
// pipeline's stages (in the order given) from the stage visits.
func stageFlows(ctx context.Context, tx funnelwatch.ReadTx, f *funnelwatch.Funnel, pipeline string, stages []funnelwatch.Stage, from, to time.Time) ([]StageFlow, error) {
	index := map[string]int{}
	for i, s := range stages {
		index[s.ID] = i
	}
	out := make([]StageFlow, len(stages))
	entered, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{Pipeline: pipeline, EnteredFrom: from, EnteredTo: to})
	if err != nil {
		return nil, err
	}
	left, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{Pipeline: pipeline, LeftFrom: from, LeftTo: to})
	if err != nil {
		return nil, err
	}
	// Where the entries went: every visit of their deals since the
	// period began, in any pipeline.
	var deals []string
	for _, v := range entered {
		if len(deals) == 0 || deals[len(deals)-1] != v.DealID {
			deals = append(deals, v.DealID)
		}
	}
	later := map[string][]*funnelwatch.StageVisit{}
	if len(deals) > 0 {
		vs, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{DealIDs: deals, EnteredFrom: from})
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			later[v.DealID] = append(later[v.DealID], v)
		}
	}
	won := func(v *funnelwatch.StageVisit) bool {
		s, ok := f.ResolveStage(v.Pipeline, v.Stage)
		return ok && s.Type == funnelwatch.StageWon
	}

	next, wonN := make([]int, len(stages)), make([]int, len(stages))
	for _, v := range entered {
		i, ok := index[v.Stage]
		if !ok {
			continue // a stage no longer in the regulations
		}
		out[i].Entries++
		if stages[i].Type != funnelwatch.StageOpen {
			continue
		}
		reachedNext, reachedWon := false, false
		for _, x := range later[v.DealID] {
			if x.Entered.Before(v.Entered) || (x.Entered.Equal(v.Entered) && x.Pipeline == v.Pipeline && x.Stage == v.Stage) {
				continue // before the entry, or the entry itself
			}
			if won(x) {
				reachedNext, reachedWon = true, true
				break
			}
			if j, ok := index[x.Stage]; ok && x.Pipeline == pipeline && j > i && stages[j].Type == funnelwatch.StageOpen {
				reachedNext = true
			}
		}
		if reachedNext {
			next[i]++
		}
		if reachedWon {
			wonN[i]++
		}
	}
	stays := make([][]time.Duration, len(stages))
	for _, v := range left {
		i, ok := index[v.Stage]
		if !ok {
			continue
		}
		out[i].Exits++
		stays[i] = append(stays[i], v.Left.Sub(v.Entered))
	}
	for i := range out {
		if out[i].Entries > 0 {
			out[i].ConversionNext = float64(next[i]) / float64(out[i].Entries)
			out[i].ConversionWon = float64(wonN[i]) / float64(out[i].Entries)
		}
		out[i].AvgHours, out[i].P90Hours = meanP90Hours(stays[i])
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

// meanP90Hours returns the mean and the nearest-rank 90th percentile of
// the durations, in hours (0, 0 for none).
func meanP90Hours(ds []time.Duration) (mean, p90 float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	mean = sum.Hours() / float64(len(ds))
	rank := int(math.Ceil(0.9 * float64(len(ds))))
	return mean, ds[rank-1].Hours()
}

// checkPeriod refuses a period that is empty, reversed or too long.
func checkPeriod(from, to time.Time) error {
	if !from.Before(to) {
		return funnelwatch.Errorf(funnelwatch.EINVALID, "from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > MaxPeriod {
		return funnelwatch.Errorf(funnelwatch.EINVALID, "the period is longer than 366 days; ask for a year at a time")
	}
	return nil
}

// location is the workspace's timezone, UTC when the funnel has none.
func location(f *funnelwatch.Funnel) *time.Location {
	if f != nil && f.Location != nil {
		return f.Location
	}
	return time.UTC
}
