package engine

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// openDealEvents returns the events of the i-th open deal of the memory
// benchmark (as bench.openDeal): created on the contact stage, answered
// with a note by its manager, and given a task due in two days. Deals are
// 50 ms apart, so no deadline passes before the last one is created.
func openDealEvents(i int, start time.Time) [3]funnelwatch.Event {
	at := start.Add(time.Duration(i) * 50 * time.Millisecond)
	due := at.Add(48 * time.Hour)
	id := "D" + strconv.Itoa(i)
	users := [...]string{"roman", "olga"}
	user := users[i%2]
	return [3]funnelwatch.Event{
		{ID: "c" + id, Type: funnelwatch.EventDealCreated, At: at, Deal: &funnelwatch.DealPayload{ID: id, Pipeline: "sales", Stage: "contact",
			Responsible: user, Amount: float64(1000 * (3 + i%150)), Source: "avito",
			Contact: &funnelwatch.ContactInfo{Name: "Клиент", Phone: fmt.Sprintf("+7912%07d", i%10_000_000)}}},
		{ID: "n" + id, Type: funnelwatch.EventNoteAdded, At: at, Actor: user,
			Note: &funnelwatch.NotePayload{ID: "N" + id, DealID: id, Author: user, Text: "Клиент просит КП, отправлю завтра утром"}},
		{ID: "t" + id, Type: funnelwatch.EventTaskCreated, At: at,
			Task: &funnelwatch.TaskPayload{ID: "T" + id, DealID: id, Due: &due, Text: "Отправить КП и перезвонить", Kind: "call"}},
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkOpenDeals holds open deals, each with pending deadlines (its
// task's due time, the stage's SLA, the pipeline's lifetime, the robots'
// firings), in the engine as a replay does, and reports the Go heap they
// take beside the same aggregates folded with no engine (DESIGN §9: one
// million open deals and their deadlines in < 1 GiB). FW_OPEN_DEALS sets
// the count (default 1,000,000); FW_HEAP_PROFILE, a file to write the
// heap profile to while the engine holds them.
func BenchmarkOpenDeals(b *testing.B) {
	regs, n := dealsBenchSetUp(b, "FW_OPEN_DEALS", 1_000_000)
	start := time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)
	b.Run("fold-only-baseline", func(b *testing.B) {
		for b.Loop() {
			before := heapAlloc()
			aggs := map[string]*Aggregate{}
			for i := range n {
				evs := openDealEvents(i, start)
				for j := range evs {
					e := &evs[j]
					id := e.DealRef()
					a := aggs[id]
					if a == nil {
						a = NewAggregate()
						aggs[id] = a
					}
					a.Apply(&regs.Funnel, e)
				}
			}
			after := heapAlloc()
			b.ReportMetric(float64(after-before)/(1<<20), "MiB")
			runtime.KeepAlive(aggs)
		}
	})
	for _, c := range []struct {
		name  string
		every int
	}{{"engine-all-live", -1}, {"engine", 0}} {
		b.Run(c.name, func(b *testing.B) {
			holdDeals(b, regs, n, start, c.every, false, func(i int) []funnelwatch.Event {
				evs := openDealEvents(i, start)
				return evs[:]
			})
		})
	}
}

// dealsBenchSetUp reads the bench regulations and the count of deals
// from the environment variable (def when unset).
func dealsBenchSetUp(b *testing.B, env string, def int) (*regulations.Regulations, int) {
	regs, err := regulations.ParseFile("../cmd/funnelwatch/bench_regulations.yaml")
	if err != nil {
		b.Fatal(err)
	}
	if v, err := strconv.Atoi(os.Getenv(env)); err == nil && v > 0 {
		def = v
	}
	return regs, def
}

// holdDeals replays n deals' events (events(i)) and reports the Go heap
// the engine then takes, freezing deals as the freezer's every says.
// Placed events come with their deals, as the live engine's do (no maps
// of tasks and contacts); others are placed as a backtest does.
func holdDeals(b *testing.B, regs *regulations.Regulations, n int, start time.Time, every int, placed bool, events func(i int) []funnelwatch.Event) {
	{
		for b.Loop() {
			before := heapAlloc()
			r := &replay{regs: regs, mode: Simulate, aggs: map[string]*Aggregate{},
				monitor: NewMonitor(regs), auto: NewAutomator(regs), res: &BacktestResult{}, fz: freezer{every: every}}
			if !placed {
				r.taskDeal, r.best = map[string]string{}, map[string]string{}
			}
			r.monitor.Forget()
			r.auto.Forget()
			r.auto.Start(start)
			for i := range n {
				for _, e := range events(i) {
					if !e.At.Equal(r.instant) {
						r.settle()
						r.advance(e.At, false)
						r.instant = e.At
						r.sweepIfDue()
					}
					if !placed {
						if reason := r.place(&e); reason != "" {
							b.Fatal(reason)
						}
					}
					r.apply(&e)
				}
			}
			r.settle()
			after := heapAlloc()
			if path := os.Getenv("FW_HEAP_PROFILE"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			b.ReportMetric(float64(after-before)/(1<<20), "MiB")
			b.ReportMetric(float64(after-before)/float64(n), "B/deal")
			b.ReportMetric(float64(r.monitor.PendingTimers()), "checks")
			b.ReportMetric(float64(r.auto.Pending()), "firings")
			b.ReportMetric(float64(r.monitor.OpenCount()), "findings")
			b.ReportMetric(float64(len(r.fz.recs)), "frozen")
			if len(r.fz.recs) > 0 {
				b.ReportMetric(float64(recordBytes(r))/float64(len(r.fz.recs)), "B/record")
			}
			runtime.KeepAlive(r)
		}
	}
}

// recordBytes sums the frozen deals' records.
func recordBytes(r *replay) int {
	n := 0
	for _, rec := range r.fz.recs {
		n += len(rec)
	}
	return n
}

// closedDealEvents returns the events of the i-th deal of the closed-deals
// benchmark: created on the contact stage a minute after the one before,
// noted, given a task, called, its task done, moved on and won twenty
// minutes later — a sales team's ordinary deal, closed.
func closedDealEvents(i int, start time.Time) [7]funnelwatch.Event {
	at := start.Add(time.Duration(i) * time.Minute)
	due := at.Add(2 * time.Hour)
	id := "D" + strconv.Itoa(i)
	users := [...]string{"roman", "olga"}
	user := users[i%2]
	phone := fmt.Sprintf("+7912%07d", i%10_000_000)
	return [7]funnelwatch.Event{
		{ID: "c" + id, Type: funnelwatch.EventDealCreated, At: at, Deal: &funnelwatch.DealPayload{ID: id, Pipeline: "sales", Stage: "contact",
			Responsible: user, Amount: float64(1000 * (3 + i%150)), Source: "avito",
			Contact: &funnelwatch.ContactInfo{Name: "Клиент", Phone: phone}}},
		{ID: "n" + id, Type: funnelwatch.EventNoteAdded, At: at, Actor: user,
			Note: &funnelwatch.NotePayload{ID: "N" + id, DealID: id, Author: user, Text: "Клиент просит КП, отправлю сегодня"}},
		{ID: "t" + id, Type: funnelwatch.EventTaskCreated, At: at,
			Task: &funnelwatch.TaskPayload{ID: "T" + id, DealID: id, Due: &due, Text: "Отправить КП и перезвонить", Kind: "call"}},
		{ID: "k" + id, Type: funnelwatch.EventCall, At: at.Add(5 * time.Minute), Call: &funnelwatch.CallPayload{ID: "K" + id, User: user,
			Direction: "outbound", Phone: phone, StartedAt: at.Add(5 * time.Minute), DurationS: 180, Answered: true, DealID: id}},
		{ID: "d" + id, Type: funnelwatch.EventTaskCompleted, At: at.Add(10 * time.Minute), TaskID: "T" + id, Result: "КП отправлено"},
		{ID: "r" + id, Type: funnelwatch.EventDealStageChanged, At: at.Add(10 * time.Minute), DealID: id, ToStage: "ready"},
		{ID: "w" + id, Type: funnelwatch.EventDealStageChanged, At: at.Add(20 * time.Minute), DealID: id, ToStage: "won"},
	}
}

// BenchmarkClosedDeals holds closed deals in the engine as a replay does
// — a year and more of a team's history, a deal a minute — and reports
// the Go heap they take when the engine keeps the closed ones that wait
// on nothing as records (freezer), beside the same replay keeping every
// deal live (the baseline, in the same run). FW_CLOSED_DEALS sets the
// count (default 200,000).
func BenchmarkClosedDeals(b *testing.B) {
	regs, n := dealsBenchSetUp(b, "FW_CLOSED_DEALS", 200_000)
	start := time.Date(2025, 8, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		every int
	}{{"all-live-baseline", -1}, {"closed-frozen", 0}} {
		b.Run(c.name, func(b *testing.B) {
			holdDeals(b, regs, n, start, c.every, true, func(i int) []funnelwatch.Event {
				evs := closedDealEvents(i, start)
				for j := range evs {
					if evs[j].DealID == "" {
						evs[j].DealID = evs[j].DealRef()
					}
					if evs[j].DealID == "" {
						evs[j].DealID = "D" + strconv.Itoa(i) // the task's
					}
				}
				return evs[:]
			})
		})
	}
}
