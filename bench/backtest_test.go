package bench_test

import (
	"testing"

	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/engine"
)

// BenchmarkBacktest replays the synthetic log with every rule and robot on
// (simulate mode), beside a baseline in the same run: folding the same
// events with no rules.
func BenchmarkBacktest(b *testing.B) {
	regs := benchRegulations(b)
	events := bench.SyntheticEvents(200_000, 1, storetestBase)
	b.Run("fold-only-baseline", func(b *testing.B) {
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
	})
	b.Run("all-rules-simulate", func(b *testing.B) {
		for b.Loop() {
			if _, err := engine.Backtest(regs, events, events[len(events)-1].At, engine.Simulate); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
