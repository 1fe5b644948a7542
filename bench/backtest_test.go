package bench_test

import (
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/regulations"

	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/engine"
)

// BenchmarkBacktest replays the synthetic log with every rule and robot on
// (simulate mode), beside a baseline in the same run: folding the same
// events with no rules.
func BenchmarkBacktest(b *testing.B) {
	regs := benchRegulations(b)
	events := bench.SyntheticEvents(200_000, 1, storetestBase)
	b.Run("fold-only-baseline", func(b *testing.B) { foldOnly(b, regs, events) })
	b.Run("all-rules-simulate", func(b *testing.B) {
		for b.Loop() {
			if _, err := engine.Backtest(regs, events, events[len(events)-1].At, engine.Simulate); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkBacktestDemo replays the demo company's 90 days at four times
// its leads a day (about 200,000 events: 48 managers' calls, notes,
// tasks, moves, missed calls and the robots' work) under its own
// regulations (14 quality rules, 11 robots), as a backtest of an
// imported history runs (observe mode: the CRM's robots already did
// their work), beside folding the same events with no rules. The
// synthetic log above is the worst case (more than a finding and an
// action per event); this is a sales team's mix (a finding per ten
// events).
func BenchmarkBacktestDemo(b *testing.B) {
	end := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	co, err := demo.Generate(demo.Options{Seed: 1, End: end, LeadsPerDay: 4 * demo.DefaultLeadsPerDay})
	if err != nil {
		b.Fatal(err)
	}
	regs, err := regulations.Parse(co.Regulations)
	if err != nil {
		b.Fatal(err)
	}
	events := co.Events
	b.Run("fold-only-baseline", func(b *testing.B) { foldOnly(b, regs, events) })
	b.Run("all-rules-observe", func(b *testing.B) {
		var res *engine.BacktestResult
		for b.Loop() {
			if res, err = engine.Backtest(regs, events, end, engine.Observe); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(len(res.Violations)), "findings")
		b.ReportMetric(float64(len(res.Actions)), "actions")
	})
}

// foldOnly folds the events into their deals with no rules: the
// baseline a replay is measured beside.
func foldOnly(b *testing.B, regs *regulations.Regulations, events []funnelwatch.Event) {
	for b.Loop() {
		aggs := map[string]*engine.Aggregate{}
		taskDeal := map[string]string{}
		for i := range events {
			e := events[i]
			id := e.DealRef()
			if id == "" {
				id = taskDeal[e.TaskID]
			}
			if e.Task != nil {
				taskDeal[e.Task.ID] = id
			}
			a := aggs[id]
			if a == nil {
				a = engine.NewAggregate()
				aggs[id] = a
			}
			a.Apply(&regs.Funnel, &e)
		}
	}
	b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
