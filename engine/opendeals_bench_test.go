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
	regs, err := regulations.ParseFile("../cmd/funnelwatch/bench_regulations.yaml")
	if err != nil {
		b.Fatal(err)
	}
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("FW_OPEN_DEALS")); err == nil && v > 0 {
		n = v
	}
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
	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			before := heapAlloc()
			r := &replay{regs: regs, mode: Simulate, aggs: map[string]*Aggregate{}, taskDeal: map[string]*Aggregate{},
				best: map[string]*Aggregate{}, monitor: NewMonitor(regs), auto: NewAutomator(regs), res: &BacktestResult{}}
			r.monitor.Forget()
			r.auto.Forget()
			r.auto.Start(start)
			for i := range n {
				evs := openDealEvents(i, start)
				for j := range evs {
					e := evs[j]
					if !e.At.Equal(r.instant) {
						r.settle()
						r.advance(e.At, false)
						r.instant = e.At
					}
					if reason := r.place(&e); reason != "" {
						b.Fatal(reason)
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
			b.ReportMetric(float64(r.monitor.PendingTimers()), "checks")
			b.ReportMetric(float64(r.auto.Pending()), "firings")
			b.ReportMetric(float64(r.monitor.OpenCount()), "findings")
			runtime.KeepAlive(r)
		}
	})
}
