package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Backtest runs the regulations over an event log on a simulated clock,
// from the first event to until (the last event when zero), with no store
// and no side effects, and returns the findings. Events are taken in
// event-time order, ties in the order given. Events that the funnel or
// the state cannot place (an unknown deal, a stage that does not exist)
// are skipped and reported.
func Backtest(regs *regulations.Regulations, events []funnelwatch.Event, until time.Time) (*BacktestResult, error) {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return events[a].At.Compare(events[b].At) })
	if until.IsZero() && len(events) > 0 {
		until = events[order[len(order)-1]].At
	}
	res := &BacktestResult{}
	aggs := map[string]*Aggregate{}
	taskDeal := map[string]string{}
	best := map[string]string{} // contact → its deal for calls without one
	deal := func(id string) *Aggregate { return aggs[id] }
	m := NewMonitor(regs)
	f := &regs.Funnel
	// Deals touched at the current instant are evaluated once all of the
	// instant's events are folded.
	var instant time.Time
	var touched []string
	settle := func() {
		slices.Sort(touched)
		for _, id := range slices.Compact(touched) {
			m.Evaluate(instant, aggs[id])
		}
		touched = touched[:0]
	}
	for n, i := range order {
		e := events[i]
		if e.At.After(until) {
			break
		}
		if !e.At.Equal(instant) {
			settle()
			instant = e.At
		}
		m.Advance(e.At, false, deal)
		if reason := backtestPlace(f, &e, aggs, taskDeal, best); reason != "" {
			res.Skipped = append(res.Skipped, SkippedEvent{Index: i, ID: e.ID, Reason: reason})
			continue
		}
		e.Seq = int64(n + 1)
		var prev *funnelwatch.Deal
		var a *Aggregate
		if e.DealID != "" {
			a = aggs[e.DealID]
			if a == nil {
				a = NewAggregate()
				aggs[e.DealID] = a
			}
			if a.Deal != nil {
				p := *a.Deal
				prev = &p
			}
			a.Apply(f, &e)
			if e.Task != nil {
				taskDeal[e.Task.ID] = e.DealID
			}
			if a.Deal != nil && a.Deal.ContactID != "" {
				if cur := aggs[best[a.Deal.ContactID]]; cur == nil || cur == a || betterDeal(a.Deal, cur.Deal) {
					best[a.Deal.ContactID] = a.Deal.ID
				}
			}
		}
		m.Observe(&e, prev, a, deal)
		if e.DealID != "" {
			touched = append(touched, e.DealID)
		}
	}
	settle()
	m.Advance(until, true, deal)
	res.Violations = m.Violations()
	res.Until = until
	return res, nil
}

// BacktestResult is what a backtest found.
type BacktestResult struct {
	Violations []*Violation
	Skipped    []SkippedEvent
	Until      time.Time
}

// SkippedEvent is an event of the log the backtest could not place.
type SkippedEvent struct {
	Index  int
	ID     string
	Reason string
}

// backtestPlace resolves the deal an event is about, the same way ingest
// does, and says why it cannot when it cannot.
func backtestPlace(f *funnelwatch.Funnel, e *funnelwatch.Event, aggs map[string]*Aggregate, taskDeal, best map[string]string) string {
	known := func(id string) bool { a := aggs[id]; return a != nil && a.Deal != nil }
	switch e.Type {
	case funnelwatch.EventDealCreated:
		if _, ok := f.Pipeline(e.Deal.Pipeline); !ok {
			return fmt.Sprintf("unknown pipeline %q", e.Deal.Pipeline)
		}
		if known(e.Deal.ID) {
			return fmt.Sprintf("deal %q already exists", e.Deal.ID)
		}
		e.DealID = e.Deal.ID
	case funnelwatch.EventTaskCompleted, funnelwatch.EventTaskDeleted, funnelwatch.EventTaskRescheduled:
		e.DealID = taskDeal[e.TaskID]
		if e.DealID == "" {
			return fmt.Sprintf("unknown task %q", e.TaskID)
		}
	case funnelwatch.EventCall:
		if e.DealID = e.Call.DealID; e.DealID == "" {
			if c := ContactOf(&funnelwatch.ContactInfo{Phone: e.Call.Phone}); c != nil {
				e.DealID = best[c.ID]
			}
			return ""
		}
	default:
		e.DealID = e.DealRef()
	}
	if !known(e.DealID) && e.Type != funnelwatch.EventDealCreated {
		return fmt.Sprintf("unknown deal %q", e.DealID)
	}
	if e.Type == funnelwatch.EventDealStageChanged {
		if _, ok := f.ResolveStage(aggs[e.DealID].Deal.Pipeline, e.ToStage); !ok {
			return fmt.Sprintf("unknown stage %q", e.ToStage)
		}
	}
	return ""
}
