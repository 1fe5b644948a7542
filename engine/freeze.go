package engine

import (
	"fmt"
	"time"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// A deal the engine has not seen an event of for a while, with no
// finding open and no condition waiting out its grace, is kept frozen: as
// its snapshot record (snapEncoder.deal: the deal, its tasks, what the
// rules and the robots keep of it, their deadlines included), a few
// hundred bytes, rather than as the live structures, ~1.4 KiB a deal and
// more a task. The agenda and the robots' queue name a deal by its id,
// so its deadlines stay where they are; when one comes due, or anything
// else asks for the deal (an event, a late event's re-fold, a copy of
// it, a call placed on it), the record is read back into a new aggregate
// in the replay's map. The engine holds every deal it has seen, open and
// closed: without this its memory grew with the company's whole history
// and with its open deals at ~1.4 KiB each. Nothing the engine finds or
// does depends on whether a deal was frozen (TestFrozenDealsChangeNothing).

// freezer holds the frozen deals of a replay.
type freezer struct {
	recs map[string][]byte // by deal id; a frozen deal is not in the replay's map
	// every: events between two sweeps for deals to freeze (0: the
	// default, a quarter of the live deals and at least minSweep; < 0:
	// never).
	every int
	since int // events since the last sweep
	// hot: the deals that got an event since the last sweep, which stay
	// live (nil when freezing is off).
	hot    map[string]bool
	enc    *snapEncoder
	zones  map[int]*time.Location
	thawed int64 // deals thawed since start
}

// minSweep is the fewest events between two sweeps: a sweep looks at
// every live deal, so they are spaced in proportion to those.
const minSweep = 20000

// holds reports whether the replay holds the deal, live or frozen.
func (r *replay) holds(id string) bool {
	if _, ok := r.aggs[id]; ok {
		return true
	}
	_, ok := r.fz.recs[id]
	return ok
}

// touchedDeal notes an event of the deal for the sweeps.
func (r *replay) touchedDeal(id string) {
	r.fz.since++
	if r.fz.every >= 0 {
		if r.fz.hot == nil {
			r.fz.hot = map[string]bool{}
		}
		r.fz.hot[id] = true
	}
}

// thaw reads a frozen deal back into the replay's map and returns its
// aggregate (nil when the deal is not frozen).
func (r *replay) thaw(id string) *Aggregate {
	rec, ok := r.fz.recs[id]
	if !ok {
		return nil
	}
	delete(r.fz.recs, id)
	r.fz.thawed++
	if r.fz.zones == nil {
		r.fz.zones = map[int]*time.Location{}
	}
	d := &snapDecoder{r: r, in: snapReader{b: rec, home: r.regs.Location, zones: r.fz.zones, dict: &r.dict, names: &r.names},
		regs: r.regs}
	d.deal()
	if d.in.err == nil && len(d.in.b) > 0 {
		d.in.fail(fmt.Errorf("%d bytes past its end", len(d.in.b)))
	}
	if d.in.err != nil {
		// The record was written by this process, by the same code.
		panic(fmt.Sprintf("engine: frozen deal %s does not read back: %v", id, d.in.err))
	}
	return r.aggs[id]
}

// sweepDue reports whether the deals are to be looked at for freezing.
func (r *replay) sweepDue() bool {
	every := r.fz.every
	if every < 0 {
		return false
	}
	if every == 0 {
		every = max(minSweep, len(r.aggs)/4)
	}
	return r.fz.since >= every
}

// sweepIfDue sweeps when it is due. It may be called between any two
// events: the deals changed at the current instant and not yet
// evaluated, and those whose robots' triggers wait to be queued (which
// hold their aggregates), got an event since the last sweep and stay
// live.
func (r *replay) sweepIfDue() {
	if r.sweepDue() {
		r.sweep()
	}
}

// sweep freezes the deals that wait on nothing but their deadlines and
// had no event since the last sweep.
func (r *replay) sweep() {
	r.fz.since = 0
	for id, a := range r.aggs {
		if !r.fz.hot[id] && r.inert(id, a) {
			r.freeze(id, a)
		}
	}
	clear(r.fz.hot)
}

// inert reports whether nothing but the replay's map refers to the deal's
// aggregate and states by pointer: no finding of it is open or waiting
// out its grace (the findings are shared with the monitor's history and
// the store's writes), and the monitor is not re-evaluating a late event
// of it. Its deadlines name it by its id.
func (r *replay) inert(id string, a *Aggregate) bool {
	if a.Deal == nil {
		return false
	}
	if ds := a.mon; ds != nil && ds.conds != nil && (len(ds.conds.open) > 0 || len(ds.conds.since) > 0) {
		return false
	}
	if len(r.monitor.open[id]) > 0 {
		return false
	}
	if _, late := r.monitor.late[id]; late {
		return false
	}
	return true
}

// freeze keeps the deal as its snapshot record.
func (r *replay) freeze(id string, a *Aggregate) {
	fz := &r.fz
	if fz.enc == nil {
		fz.enc = &snapEncoder{r: r, w: snapWriter{home: r.regs.Location, dict: &r.dict, grow: true}, vs: map[*Violation]bool{},
			rules: ruleIndex(r.regs)}
	}
	e := fz.enc
	e.w.b = e.w.b[:0]
	clear(e.vs)
	if err := e.deal(id, a); err != nil {
		return // kept live: the snapshot would fail on it too, and say why
	}
	if fz.recs == nil {
		fz.recs = map[string][]byte{}
	}
	fz.recs[id] = append(make([]byte, 0, len(e.w.b)), e.w.b...)
	delete(r.aggs, id)
}

// ruleIndex maps each quality rule of the regulations to its place.
func ruleIndex(regs *regulations.Regulations) map[*regulations.QualityRule]int {
	m := make(map[*regulations.QualityRule]int, len(regs.Quality))
	for i := range regs.Quality {
		m[&regs.Quality[i]] = i
	}
	return m
}
