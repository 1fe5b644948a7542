package engine

import (
	"fmt"
	"time"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// A closed deal that waits on nothing — no check of the rules, no robot's
// deadline, no finding open or condition waiting out its grace — is kept
// frozen: as its snapshot record (snapEncoder.deal: the deal, its tasks,
// what the rules and the robots keep of it), a few hundred bytes, rather
// than as the live structures, which were ~1.5 KiB a deal and more a
// task. The engine holds every deal it has seen, and most of a CRM's
// deals are closed: without this a server's memory grew with its whole
// history. A frozen deal keeps its aggregate (the same pointer: what
// holds it still does) with the deal, tasks and states taken out, and
// is thawed — read back into the same aggregate — the moment anything
// asks for it (an event, a late event's re-fold, a copy of it, a call
// placed on it); nothing the engine finds or does depends on whether a
// deal was frozen (TestFrozenDealsChangeNothing).

// freezer holds the frozen deals of a replay.
type freezer struct {
	recs map[*Aggregate][]byte // by the aggregate left in the replay's map
	// every: events between two sweeps for deals to freeze (0: the
	// default, a quarter of the deals held and at least minSweep; < 0:
	// never).
	every  int
	since  int // events since the last sweep
	enc    *snapEncoder
	zones  map[int]*time.Location
	thawed int64 // deals thawed since start
}

// minSweep is the fewest events between two sweeps: a sweep looks at
// every deal held, so they are spaced in proportion to the deals.
const minSweep = 20000

// thaw reads a frozen deal back into its aggregate; a is returned, for
// use in expressions. It does nothing to a live one.
func (r *replay) thaw(a *Aggregate) *Aggregate {
	if a == nil || a.Deal != nil || len(r.fz.recs) == 0 {
		return a
	}
	rec, ok := r.fz.recs[a]
	if !ok {
		return a
	}
	delete(r.fz.recs, a)
	r.fz.thawed++
	if r.fz.zones == nil {
		r.fz.zones = map[int]*time.Location{}
	}
	d := &snapDecoder{r: r, in: snapReader{b: rec, home: r.regs.Location, zones: r.fz.zones}, regs: r.regs}
	d.dealInto(a)
	if d.in.err == nil && len(d.in.b) > 0 {
		d.in.fail(fmt.Errorf("%d bytes past its end", len(d.in.b)))
	}
	if d.in.err != nil {
		// The record was written by this process a moment ago.
		panic(fmt.Sprintf("engine: a frozen deal does not read back: %v", d.in.err))
	}
	return a
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

// sweepIfDue sweeps when it is due and the replay is at rest: no deal
// changed at the current instant waits to be evaluated, and no robot's
// trigger to be queued (both hold aggregates).
func (r *replay) sweepIfDue() {
	if r.sweepDue() && len(r.touched) == 0 && len(r.auto.collected) == 0 {
		r.sweep()
	}
}

// sweep freezes the closed deals that wait on nothing. Called at rest:
// between instants, with every change evaluated.
func (r *replay) sweep() {
	r.fz.since = 0
	for id, a := range r.aggs {
		if r.inert(id, a) {
			r.freeze(id, a)
		}
	}
}

// inert reports whether nothing but the deal itself refers to the deal's
// state: it is closed, no check or deadline of it is on the agenda or the
// queue (which point to its states), and no finding of it is open or
// waiting. Everything else that names it does so by its id, and finds it
// through the replay's map, which thaws it.
func (r *replay) inert(id string, a *Aggregate) bool {
	d := a.Deal
	if d == nil || d.Open() {
		return false
	}
	if ds := a.mon; ds != nil {
		if len(ds.due) > 0 || (ds.conds != nil && (len(ds.conds.open) > 0 || len(ds.conds.since) > 0)) {
			return false
		}
	}
	if da := a.auto; da != nil {
		for i := range da.insts {
			if da.insts[i].queued || da.insts[i].armed {
				return false
			}
		}
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
		fz.enc = &snapEncoder{r: r, w: snapWriter{home: r.regs.Location}, vs: map[*Violation]bool{},
			rules: ruleIndex(r.regs)}
	}
	e := fz.enc
	e.w.b = e.w.b[:0]
	clear(e.vs)
	if err := e.deal(id, a); err != nil {
		return // kept live: the snapshot would fail on it too, and say why
	}
	if fz.recs == nil {
		fz.recs = map[*Aggregate][]byte{}
	}
	fz.recs[a] = append(make([]byte, 0, len(e.w.b)), e.w.b...)
	a.Deal, a.Tasks, a.open, a.openOK, a.mon, a.auto = nil, nil, nil, false, nil, nil
}

// frozenRecord returns the record of a frozen deal (nil for a live one).
func (r *replay) frozenRecord(a *Aggregate) []byte {
	if a.Deal != nil {
		return nil
	}
	return r.fz.recs[a]
}

// ruleIndex maps each quality rule of the regulations to its place.
func ruleIndex(regs *regulations.Regulations) map[*regulations.QualityRule]int {
	m := make(map[*regulations.QualityRule]int, len(regs.Quality))
	for i := range regs.Quality {
		m[&regs.Quality[i]] = i
	}
	return m
}
