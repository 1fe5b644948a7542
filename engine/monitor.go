package engine

import (
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/phone"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Violation is a finding of a quality rule: a violation or a remark, open
// until its condition stops holding.
type Violation struct {
	Rule       string
	Severity   regulations.Severity
	DealID     string
	TaskID     string
	CallID     string
	User       string // accountable: the deal's responsible, or the task's assignee
	Pipeline   string
	Stage      string // the deal's stage when the violation opened
	OpenedAt   time.Time
	ResolvedAt *time.Time
	Text       RuleText // message and recommendation, ru and en
	Metric     string   // anomaly: the metric out of line
	// Evidence is what the finding rests on (the task and its due time,
	// the call, the stage entry and its SLA…).
	Evidence Evidence
	// Amount is the deal's amount when the finding opened and WinRate the
	// historical win rate of its stage then: the money at risk is their
	// product.
	Amount, WinRate float64

	changed  bool      // opened or resolved since the last TakeChanged
	kind     findKind  // what keeps it open
	resolved time.Time // what ResolvedAt points to: one allocation, not two
	ev       evidence  // what a state finding's Evidence says: one allocation, not three
}

// findKind says what keeps a finding open: the deal's state, a missed
// call waiting for its callback, or a manager's figures.
type findKind uint8

const (
	findState findKind = iota
	findCallback
	findAnomaly
)

// MoneyAtRisk is the deal's amount weighted by the odds of winning it
// from the stage where the finding opened.
func (v *Violation) MoneyAtRisk() float64 { return v.Amount * v.WinRate }

// Monitor evaluates the quality rules of the regulations as conditions
// over time (DESIGN §5). It is told each event after the event is folded,
// and the passing of time by Advance; it never reads a clock, so a
// simulated clock gives the same findings as the wall clock.
//
// Evaluating a deal derives its conditions from the deal as it is now
// (its open tasks, stage, fields and what the activity rules remember)
// and compares them with its open findings and the conditions waiting out
// their grace. What applies where is worked out once per pipeline and
// stage (scope), and each deal keeps its own small state (dealMon), so an
// evaluation costs a few comparisons per condition and allocates nothing
// unless a finding opens.
type Monitor struct {
	regs       *regulations.Regulations
	rules      []*regulations.QualityRule
	byID       map[string]*regulations.QualityRule
	exprs      []*regulations.QualityRule // expression rules, in the file's order
	texts      map[*regulations.QualityRule]RuleText
	supervisor map[string]string // of each user, as regs.User finds them
	anomalyOn  bool

	scopes map[place]*scope

	// open holds the open callback findings by deal; "" holds the
	// anomalies and the callbacks of calls with no deal. The findings of
	// a deal's state are in its dealMon.open, and only counted here
	// (stateOpen): listing them by deal as well cost a map insertion and
	// a deletion per finding.
	open           map[string][]*Violation
	stateOpen      int
	all            []*Violation
	timers         agenda[check]
	checks         map[timer]bool           // the phone and anomaly checks on the agenda (a deal's are in dealMon.due)
	dues, queued   int                      // deals' checks waiting, and of those on the agenda
	missed         map[string][]*missedCall // unanswered inbound calls by phone
	phones         phoneKeys
	closings       map[string][]closing // recent losses by manager, for mass closing
	calls          []callFact           // answered calls of the last days, for anomalies
	wins           []winFact
	anomalyStarted bool
	rates          winRates
	epoch          uint64 // counts evaluations, to mark the conditions found holding
	junkMemo       map[junkKey]bool
	expr           exprRunner

	late    map[string]time.Time // deal → the latest of its late events being evaluated
	forget  bool                 // keep no history of findings (live: the store has it)
	changed []*Violation         // opened or resolved since the last TakeChanged
	noticed []*Violation         // opened since the last TakeNoticed, of rules that notify
}

// dealMon is what the monitor keeps of one deal.
type dealMon struct {
	m     *Monitor
	id    string
	sc    *scope     // where the deal was when last seen
	conds *dealConds // its open findings and waiting conditions (nil: none, as for most deals)
	// due: the moments the deal is to be checked at. Only the earliest
	// is on the agenda (at the place it took among ties when it was
	// scheduled), so a deal waiting on many deadlines holds one entry
	// of the agenda, not one each; the next goes on when it comes due.
	due []dueCheck
	act activity
	// visited: the stages the open deal passed through, for win rates.
	visited []*scope
	// The aggregate and its revision at the last full evaluation: while
	// they stand, a check at a deadline only has the conditions due then
	// to look at.
	lastAgg *Aggregate
	lastRev uint32
}

// dealConds are the findings of a deal's state open now and the
// conditions waiting out their grace: apart from dealMon, as most open
// deals have never had either, and two empty lists a deal were 48 bytes.
// Kept once made: a deal that had some is likely to have more, and
// making them again was an allocation per finding.
type dealConds struct {
	open  []openEntry
	since []sinceEntry
}

// openList returns the findings of the deal's state open now.
func (ds *dealMon) openList() []openEntry {
	if ds.conds == nil {
		return nil
	}
	return ds.conds.open
}

// sinceList returns the conditions waiting out their grace.
func (ds *dealMon) sinceList() []sinceEntry {
	if ds.conds == nil {
		return nil
	}
	return ds.conds.since
}

// condsOf returns the deal's conditions, made when it has none.
func (ds *dealMon) condsOf() *dealConds {
	if ds.conds == nil {
		ds.conds = &dealConds{}
	}
	return ds.conds
}

// dueCheck is a moment a deal is to be checked at, and its place among
// the checks due at the same moment (onAgenda set when it is on the
// agenda).
type dueCheck struct {
	at  time.Time
	seq uint64
}

const onAgenda = 1 << 63

func (c dueCheck) place() uint64 { return c.seq &^ onAgenda }

// before orders checks as the agenda does.
func (c dueCheck) before(d dueCheck) bool {
	if x := c.at.Compare(d.at); x != 0 {
		return x < 0
	}
	return c.place() < d.place()
}

// first returns the index of the deal's earliest check (-1: none).
func (ds *dealMon) first() int {
	i := -1
	for j := range ds.due {
		if i < 0 || ds.due[j].before(ds.due[i]) {
			i = j
		}
	}
	return i
}

// openEntry is an open finding of a deal's state: the rule and the task
// or call it is about (sub), as conditions name them.
type openEntry struct {
	rule *regulations.QualityRule
	sub  string
	t    *funnelwatch.Task // the task it is about, known without reading sub
	v    *Violation
	held uint64 // the evaluation that last found its condition holding
}

// sinceEntry is a condition that holds but has not yet held for its
// rule's grace: the rule and the task or call it is about (sub), and when
// it began to hold.
type sinceEntry struct {
	rule  *regulations.QualityRule
	sub   string
	since time.Time
	held  uint64
}

type missedCall struct {
	id, deal, user string
	started        time.Time
	deadline       time.Time // the callback limit plus grace
}

// NewMonitor returns a monitor of the regulations' quality rules.
func NewMonitor(regs *regulations.Regulations) *Monitor {
	m := &Monitor{regs: regs, open: map[string][]*Violation{}, missed: map[string][]*missedCall{},
		checks: map[timer]bool{}, rates: newWinRates(), scopes: map[place]*scope{},
		texts: map[*regulations.QualityRule]RuleText{}, supervisor: map[string]string{}}
	m.byID = map[string]*regulations.QualityRule{}
	for i := range regs.Quality {
		r := &regs.Quality[i]
		m.rules = append(m.rules, r)
		if m.byID[r.ID] == nil { // anomaly may be listed once per metric
			m.byID[r.ID] = r
		}
		if r.Rule == regulations.RuleExpr {
			m.exprs = append(m.exprs, r)
		}
		m.texts[r] = TextOf(r)
	}
	m.anomalyOn = m.byID[regulations.RuleAnomaly] != nil
	for _, u := range regs.Users {
		if _, ok := m.supervisor[u.ID]; !ok { // the first of an id, as regs.User finds it
			m.supervisor[u.ID] = u.Supervisor
		}
	}
	return m
}

// dealOf returns the monitor's state of the aggregate's deal, making it
// the first time. The aggregate holds it, and nothing else finds it: an
// aggregate that replaces another (a deal folded again) takes it over
// (see Live.refold), so no map of every deal is kept beside the replay's.
func (m *Monitor) dealOf(a *Aggregate) *dealMon {
	if ds := a.mon; ds != nil && ds.m == m && ds.id == a.Deal.ID {
		return ds
	}
	ds := &dealMon{m: m, id: a.Deal.ID}
	a.mon = ds
	return ds
}

// Violations returns every finding so far, in the order they opened
// (none when the monitor forgets them, see Forget).
func (m *Monitor) Violations() []*Violation { return m.all }

// Forget makes the monitor keep only its open findings, as the live
// engine needs: what TakeChanged returns goes to the store.
func (m *Monitor) Forget() { m.forget, m.all = true, nil }

// TakeChanged returns the findings opened or resolved since the last
// call, each once, in the order they first changed.
func (m *Monitor) TakeChanged() []*Violation {
	out := m.changed
	for _, v := range out {
		v.changed = false
	}
	m.changed = nil
	return out
}

// touch records that a finding changed.
func (m *Monitor) touch(v *Violation) {
	if !v.changed {
		v.changed = true
		m.changed = append(m.changed, v)
	}
}

// resolve closes a finding at now.
func (m *Monitor) resolve(v *Violation, now time.Time) {
	v.resolved = now
	v.ResolvedAt = &v.resolved
	m.touch(v)
}

// Late tells the monitor that an event of the deal happened at `at` but
// arrived after the clock had passed it. A finding of the deal that the
// next evaluation resolves is resolved at that time (or when it opened,
// if later): the CRM says the condition ended then.
func (m *Monitor) Late(deal string, at time.Time) {
	if m.late == nil {
		m.late = map[string]time.Time{}
	}
	if cur, ok := m.late[deal]; !ok || at.After(cur) {
		m.late[deal] = at
	}
}

// OpenCount returns how many findings are open.
func (m *Monitor) OpenCount() int {
	n := m.stateOpen
	for _, vs := range m.open {
		n += len(vs)
	}
	return n
}

// PendingTimers returns how many checks are waiting for their time:
// every deadline of every deal, though the agenda holds only each deal's
// earliest.
func (m *Monitor) PendingTimers() int { return m.timers.len() - m.queued + m.dues }

// check is what a timer checks: a deal's conditions, a phone's callbacks,
// or (neither) the daily comparison of the managers. A deal's check
// names the deal by its id, not its state: the state of a deal that
// waits on its deadlines may be frozen meanwhile (freezer), and is read
// back when the check comes due; the id shares the deal's own copy. The
// phone is pointed to: few checks are a phone's, and a string rather
// than a pointer would be 8 more bytes in every entry.
type check struct {
	deal  string
	phone *string
}

// timer identifies a phone's or the anomaly check on the agenda.
type timer struct {
	at    time.Time
	phone string
	kind  string
}

const timerAnomaly = "anomaly"

// schedule adds a phone's or the anomaly check, once per moment and
// target.
func (m *Monitor) schedule(t timer) {
	if m.checks[t] {
		return
	}
	m.checks[t] = true
	var phone *string
	if t.phone != "" {
		phone = &t.phone
	}
	m.timers.add(t.at, check{phone: phone})
}

// scheduleDeal adds a check of a deal's conditions, once per moment.
// Moments are told apart as map keys would be (==, not Equal): a check
// at the same instant in another time zone is another check. The check
// takes its place among ties now; the evaluation that schedules it puts
// the deal's earliest on the agenda when it ends (arm), so the deadlines
// an evaluation finds in whatever order make one entry, not several.
func (m *Monitor) scheduleDeal(ds *dealMon, at time.Time) {
	for _, c := range ds.due {
		if c.at == at {
			return
		}
	}
	c := dueCheck{at: at, seq: m.timers.reserve()}
	if n := len(ds.due); n == cap(ds.due) && n < 4 {
		// Made for three, then grown one at a time while short: most
		// open deals wait on a few (a task's due time, the SLA, the
		// lifetime) for as long as they stay open, and one at a time
		// from one cost an allocation each. Past four, doubled, as
		// append does: a deal piling up tasks made a list a check.
		ds.due = append(make([]dueCheck, 0, max(n+1, 3)), ds.due...)
	}
	ds.due = append(ds.due, c)
	m.dues++
}

// arm puts the deal's earliest check on the agenda, at its place, if it
// is not there.
func (m *Monitor) arm(ds *dealMon) {
	if i := ds.first(); i >= 0 && ds.due[i].seq&onAgenda == 0 {
		c := &ds.due[i]
		m.timers.addAt(c.at, c.place(), check{deal: ds.id})
		c.seq |= onAgenda
		m.queued++
	}
}

// fired takes a check that came due off the deal's list (the deal's
// earliest: the agenda gives the earliest of all), and puts the deal's
// next one on the agenda.
func (m *Monitor) fired(ds *dealMon, seq uint64) {
	m.queued--
	for i, c := range ds.due {
		if c.place() == seq {
			last := len(ds.due) - 1
			copy(ds.due[i:], ds.due[i+1:])
			ds.due[last] = dueCheck{}
			ds.due = ds.due[:last]
			m.dues--
			break
		}
	}
	if len(ds.due) == 0 {
		ds.due = nil
		return
	}
	m.arm(ds)
}

// Advance fires the timers due before now (or at now, when inclusive):
// deadlines at the instant of an event are checked after it, so callers
// pass inclusive=false before applying the events at now, and true at the
// end of a run.
func (m *Monitor) Advance(now time.Time, inclusive bool, deal func(id string) *Aggregate) {
	for {
		it, ok := m.timers.popItem(now, inclusive)
		if !ok {
			return
		}
		at, c := it.at, it.v
		switch {
		case c.deal != "":
			// The deal holds the state its checks were scheduled in (a
			// re-folded one is given it; a frozen one is read back).
			a := deal(c.deal)
			if a == nil || a.mon == nil {
				panic("engine: a check of deal " + c.deal + ", whose state no deal holds")
			}
			ds := a.mon
			m.fired(ds, it.seq)
			if a.Deal != nil {
				m.evaluateAt(at, a, ds)
			}
		case c.phone != nil:
			delete(m.checks, timer{at: at, phone: *c.phone})
			m.checkCallbacks(at, *c.phone, deal)
		default:
			delete(m.checks, timer{at: at, kind: timerAnomaly})
			m.checkAnomalies(at)
		}
	}
}

// NextTimer returns when the next check is due, if any.
func (m *Monitor) NextTimer() (time.Time, bool) {
	return m.timers.next()
}

// Observe takes an event just folded into a (prev is the deal as it was
// before, nil for a new one) and records the findings of that moment: a
// backward move, a loss without a reason, a missed call. The deal's state
// rules are evaluated by Evaluate once every event of the same instant has
// been folded: the state at T is the state after all of T's events.
func (m *Monitor) Observe(e *funnelwatch.Event, prev *funnelwatch.Deal, a *Aggregate, deal func(id string) *Aggregate) {
	var ds *dealMon
	var sc *scope
	if a != nil && a.Deal != nil {
		ds = m.dealOf(a)
		sc = m.scopeFor(ds, a.Deal)
	}
	switch e.Type {
	case funnelwatch.EventDealStageChanged, funnelwatch.EventDealCreated:
		if ds != nil {
			m.instant(e.At, e, prev, a.Deal, sc)
		}
	case funnelwatch.EventCall:
		m.call(e.At, e, deal)
	}
	if ds != nil {
		m.rates.observe(prev, a.Deal, sc, &ds.visited)
		m.observeActivity(e, prev, a, ds, sc)
	}
	if m.anomalyOn {
		m.recordForAnomaly(e, prev, a)
	}
}

// Evaluate brings the deal's state findings up to date at now.
func (m *Monitor) Evaluate(now time.Time, a *Aggregate) {
	if a != nil && a.Deal != nil {
		m.evaluate(now, a)
	}
}

// instant opens and resolves at once the findings of a single moment:
// a backward move, a loss without a reason, a closing stage entered with
// required fields empty.
func (m *Monitor) instant(now time.Time, e *funnelwatch.Event, prev, d *funnelwatch.Deal, sc *scope) {
	p, st := sc.p, sc.st
	if p == nil || st == nil {
		return
	}
	entered := prev == nil || prev.Pipeline != d.Pipeline || prev.Stage != d.Stage
	if !entered {
		return
	}
	if prev != nil && prev.Pipeline == d.Pipeline {
		if old, ok := p.Stage(prev.Stage); ok && isBackward(old, st) {
			if r := sc.rule[kBackward]; r != nil {
				m.flash(now, r, d, "").Evidence = NewEvidence(map[string]any{"from_stage": old.ID, "to_stage": st.ID, "event_id": e.ID})
			}
		}
	}
	if st.Type == funnelwatch.StageLost && d.LossReason == "" {
		if r := sc.rule[kLostWithoutReason]; r != nil {
			from := ""
			if prev != nil {
				from = prev.Stage
			}
			m.flash(now, r, d, "").Evidence = NewEvidence(map[string]any{"from_stage": from, "event_id": e.ID})
		}
	}
	if r := sc.rule[kRequired]; r != nil && st.Type.Closed() {
		if missing := missingFields(sc.required, d); len(missing) > 0 {
			m.flash(now, r, d, "").Evidence = NewEvidence(map[string]any{"missing": missing, "event_id": e.ID})
		}
	}
}

// isBackward reports whether a move from old to st goes back: to an
// earlier open stage, or from a closed stage to an open one (a reopening).
func isBackward(old, st *funnelwatch.Stage) bool {
	if st.Type != funnelwatch.StageOpen {
		return false
	}
	return old.Type.Closed() || st.Order < old.Order
}

// flash records a finding that opens and resolves at the same moment,
// accountable to the deal's responsible.
func (m *Monitor) flash(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, task string) *Violation {
	return m.flashFor(now, r, d, task, d.Responsible)
}

// flashFor is flash accountable to a given user.
func (m *Monitor) flashFor(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, task, user string) *Violation {
	v := m.newViolation(now, r, d, task, "", user)
	m.resolve(v, now)
	return v
}

func (m *Monitor) newViolation(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, task, call, user string) *Violation {
	var sc *scope
	if d != nil {
		sc = m.scopeOf(d.Pipeline, d.Stage)
	}
	return m.newViolationIn(now, r, d, sc, task, call, user)
}

// newViolationIn is newViolation with the scope of the deal's place.
func (m *Monitor) newViolationIn(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, sc *scope, task, call, user string) *Violation {
	text, ok := m.texts[r]
	if !ok {
		text = TextOf(r)
	}
	v := &Violation{Rule: r.ID, Severity: r.Severity, TaskID: task, CallID: call, User: user, OpenedAt: now, Text: text}
	if v.Severity == "" {
		v.Severity = regulations.SeverityViolation
	}
	if d != nil {
		v.DealID, v.Pipeline, v.Stage = d.ID, d.Pipeline, d.Stage
		v.Amount, v.WinRate = d.Amount, m.rates.rate(sc)
	}
	if !m.forget {
		m.all = append(m.all, v)
	}
	m.touch(v)
	if len(r.Notify) > 0 {
		m.noticed = append(m.noticed, v)
	}
	return v
}

// TakeNoticed returns the findings opened since the last call whose rules
// tell someone (the rule's notify), in the order they opened.
func (m *Monitor) TakeNoticed() []*Violation {
	out := m.noticed
	m.noticed = nil
	return out
}

// evaluation is one evaluation of a deal under way.
type evaluation struct {
	now  time.Time
	a    *Aggregate
	ds   *dealMon
	sc   *scope
	held uint64
	// due: only the conditions that fall due now are taken (see
	// evaluateAt).
	due bool
	// hint: where among the deal's open findings holdsFor looks first.
	hint int
}

// evaluate brings the deal's state findings up to date at now: conditions
// that hold (past their grace) open, those that no longer hold resolve,
// and the moments at which something may change get timers. The
// conditions are taken in a fixed order (tasks by id, then the deal's),
// which is the order their findings open in.
func (m *Monitor) evaluate(now time.Time, a *Aggregate) {
	m.evaluateDeal(now, a, m.dealOf(a), false)
}

// evaluateAt is the check of a deal at one of its deadlines. When the
// deal has not changed since it was last evaluated, its conditions have
// not changed either: those that held still hold, and only those whose
// threshold (a due time, an SLA, a limit) is now can begin to hold — the
// others passed theirs at their own checks. So only those are taken,
// unless a condition's grace ends now (then everything is, as after a
// change). This gives what a full evaluation gives, at a fraction of
// its cost: most checks are of deals with many conditions of which one
// falls due.
func (m *Monitor) evaluateAt(now time.Time, a *Aggregate, ds *dealMon) {
	due := ds.lastAgg == a && ds.lastRev == a.rev
	if due {
		if _, late := m.late[ds.id]; late {
			due = false
		}
	}
	if due {
		for _, s := range ds.sinceList() {
			if s.since.Add(s.rule.Grace).Equal(now) {
				due = false
				break
			}
		}
	}
	m.evaluateDeal(now, a, ds, due)
}

func (m *Monitor) evaluateDeal(now time.Time, a *Aggregate, ds *dealMon, due bool) {
	d := a.Deal
	sc := m.scopeFor(ds, d)
	m.epoch++
	x := &evaluation{now: now, a: a, ds: ds, sc: sc, held: m.epoch, due: due}
	tasks := a.openTasks()
	if due {
		// Only a task falling due now.
		for _, ot := range tasks {
			if t := ot.t; ot.due().Equal(now) && t.Due != nil && taskCounts(d, t) {
				m.cond(x, sc.rule[kTaskOverdue], t, "", taskUser(t, d), *t.Due)
			}
		}
	} else {
		counts := d.DeletedAt == nil && d.Open() // every task counts: none need be read
		overdue := sc.rule[kTaskOverdue]
		for _, ot := range tasks {
			if counts && !ot.due().IsZero() {
				// Not yet due, only its check to schedule; overdue
				// with its finding open, only to say it still holds.
				if now.Before(ot.due()) {
					if overdue != nil {
						m.scheduleDeal(ds, ot.due())
					}
					continue
				}
				if overdue == nil || ds.holdsFor(overdue, ot.t, x.held, &x.hint) {
					continue
				}
			}
			t := ot.t
			if !taskCounts(d, t) {
				continue
			}
			if t.Due == nil {
				m.cond(x, sc.rule[kTaskNoDue], t, "", taskUser(t, d), time.Time{})
			} else {
				m.cond(x, sc.rule[kTaskOverdue], t, "", taskUser(t, d), *t.Due)
			}
		}
	}
	if d.Open() {
		if len(tasks) == 0 && !due {
			m.cond(x, sc.rule[kNoNextTask], nil, "", d.Responsible, time.Time{})
		}
		if p := sc.p; p != nil {
			m.activityConditions(x, sc)
			if p.Lifetime > 0 {
				m.cond(x, sc.rule[kLifetime], nil, "", d.Responsible, d.PipelineEnteredAt.Add(p.Lifetime))
			}
			if st := sc.st; st != nil {
				if st.SLA > 0 {
					m.cond(x, sc.rule[kStageSLA], nil, "", d.Responsible, d.StageEnteredAt.Add(st.SLA))
				}
				if r := sc.rule[kRequired]; r != nil && !due && anyMissing(sc.required, d) {
					m.cond(x, r, nil, "", d.Responsible, time.Time{})
				}
			}
		}
	}
	if due {
		m.arm(ds)
		return // nothing stopped holding: the deal has not changed
	}
	ds.lastAgg, ds.lastRev = a, a.rev
	at := now
	if late, ok := m.late[d.ID]; ok {
		delete(m.late, d.ID)
		at = late
	}
	if c := ds.conds; c != nil {
		// Conditions that no longer hold stop waiting out their grace.
		kept := c.since[:0]
		for _, s := range c.since {
			if s.held == x.held {
				kept = append(kept, s)
			}
		}
		clear(c.since[len(kept):])
		c.since = kept
		if len(kept) == 0 {
			c.since = nil
		}
		// Findings whose condition no longer holds resolve.
		open := c.open[:0]
		for _, o := range c.open {
			if o.held != x.held {
				m.resolve(o.v, later(at, o.v.OpenedAt))
				m.stateOpen--
				continue
			}
			open = append(open, o)
		}
		clear(c.open[len(open):])
		c.open = open
		if len(open) == 0 {
			c.open = nil
		}
	}
	m.arm(ds)
}

// holdsFor marks the open finding of rule r on task t as holding, if
// there is one. The search begins where the last one ended (from): the
// tasks are taken in id order, and their findings opened in that order,
// evaluation after evaluation, so the next is mostly the one after. A
// deal piling up overdue tasks made this a scan of every finding for
// every task. There is at most one finding a rule and task, so where the
// search begins changes only how soon it is found.
func (ds *dealMon) holdsFor(r *regulations.QualityRule, t *funnelwatch.Task, held uint64, from *int) bool {
	open := ds.openList()
	n := len(open)
	if *from >= n {
		*from = 0
	}
	for k := range n {
		i := *from + k
		if i >= n {
			i -= n
		}
		if o := &open[i]; o.t == t && o.rule == r {
			o.held = held
			*from = i + 1
			return true
		}
	}
	return false
}

// taskUser is who a task's finding is accountable to.
func taskUser(t *funnelwatch.Task, d *funnelwatch.Deal) string {
	if t.Assignee != "" {
		return t.Assignee
	}
	return d.Responsible
}

// cond takes one condition of the deal: rule r on the deal, or on its
// task t or call, accountable to user; it holds from threshold (zero: it
// holds now).
func (m *Monitor) cond(x *evaluation, r *regulations.QualityRule, t *funnelwatch.Task, call, user string, threshold time.Time) {
	if r == nil {
		return
	}
	task := ""
	if t != nil {
		task = t.ID
	}
	now := x.now
	if x.due && (threshold.IsZero() || !threshold.Equal(now)) {
		return
	}
	if !threshold.IsZero() && now.Before(threshold) {
		m.scheduleDeal(x.ds, threshold)
		return
	}
	sub := task
	if call != "" {
		sub = call
	}
	ds := x.ds
	open := ds.openList()
	for i := range open {
		if o := &open[i]; o.rule == r && o.sub == sub {
			o.held = x.held
			return
		}
	}
	waiting := ds.sinceList()
	i := -1
	for j := range waiting {
		if waiting[j].rule == r && waiting[j].sub == sub {
			i = j
			break
		}
	}
	since := now
	if i >= 0 {
		since = waiting[i].since
		waiting[i].held = x.held
	}
	if deadline := since.Add(r.Grace); now.Before(deadline) {
		if i < 0 {
			c := ds.condsOf()
			c.since = append(c.since, sinceEntry{rule: r, sub: sub, since: since, held: x.held})
		}
		m.scheduleDeal(ds, deadline)
		return
	}
	if i >= 0 {
		waiting[i].held = 0 // dropped after the evaluation
	}
	d := x.a.Deal
	v := m.newViolationIn(now, r, d, x.sc, task, call, user)
	et := t
	if et == nil {
		et = x.a.Tasks.Get("") // as the evidence of a deal's condition always looked
	}
	evidenceOf(v, r, threshold, et, x.a, since)
	c := ds.condsOf()
	c.open = append(c.open, openEntry{rule: r, sub: sub, t: t, v: v, held: x.held})
	m.stateOpen++
}

// call handles the callback rule: an unanswered inbound call waits for an
// outbound call to the same number; any later one is the callback.
func (m *Monitor) call(now time.Time, e *funnelwatch.Event, deal func(id string) *Aggregate) {
	c := e.Call
	key := m.phones.key(c.Phone)
	if key == "" {
		return
	}
	if c.Direction == funnelwatch.DirectionOut {
		for _, mc := range m.missed[key] {
			if v, i := m.openCallback(mc); v != nil {
				m.resolve(v, now)
				m.dropOpen(mc.deal, i)
			}
		}
		delete(m.missed, key)
		return
	}
	if c.Answered {
		return
	}
	var d *funnelwatch.Deal
	if a := deal(e.DealID); a != nil {
		d = a.Deal
	}
	r := m.callRule(d)
	if r == nil {
		return
	}
	limit := r.Limit
	if limit == 0 {
		limit = 15 * time.Minute
	}
	user := c.User
	if d != nil && d.Responsible != "" {
		user = d.Responsible
	}
	mc := &missedCall{id: c.ID, deal: e.DealID, user: user, started: c.StartedAt, deadline: c.StartedAt.Add(limit + r.Grace)}
	m.missed[key] = append(m.missed[key], mc)
	m.schedule(timer{at: mc.deadline, phone: key})
}

// openCallback returns the open callback finding of a missed call and its
// index among its deal's open findings.
func (m *Monitor) openCallback(mc *missedCall) (*Violation, int) {
	for i, v := range m.open[mc.deal] {
		if v.kind == findCallback && v.CallID == mc.id {
			return v, i
		}
	}
	return nil, -1
}

// dropOpen removes the i-th open finding of a deal.
func (m *Monitor) dropOpen(deal string, i int) {
	vs := m.open[deal]
	vs = append(vs[:i], vs[i+1:]...)
	if len(vs) == 0 {
		delete(m.open, deal)
		return
	}
	m.open[deal] = vs
}

func (m *Monitor) callRule(d *funnelwatch.Deal) *regulations.QualityRule {
	if d != nil {
		return m.scopeOf(d.Pipeline, d.Stage).rule[kCallback]
	}
	for _, r := range m.rules {
		if r.ID == regulations.RuleMissedCallCallback && len(r.Pipelines) == 0 && len(r.Stages) == 0 {
			return r
		}
	}
	return nil
}

// checkCallbacks opens the callback findings of a phone whose limit has
// passed without a callback.
func (m *Monitor) checkCallbacks(now time.Time, key string, deal func(id string) *Aggregate) {
	for _, mc := range m.missed[key] {
		if v, _ := m.openCallback(mc); v != nil || mc.deadline.After(now) {
			continue
		}
		var d *funnelwatch.Deal
		if a := deal(mc.deal); a != nil {
			d = a.Deal
		}
		r := m.callRule(d)
		if r == nil {
			continue
		}
		v := m.newViolation(now, r, d, "", mc.id, mc.user)
		v.kind = findCallback
		v.Evidence = NewEvidence(map[string]any{"call_id": mc.id, "phone": key, "started_at": mc.started, "limit": (mc.deadline.Sub(mc.started) - r.Grace).String(), "deadline": mc.deadline})
		m.open[mc.deal] = append(m.open[mc.deal], v)
	}
}

// phoneKeys remembers the last numbers normalised: a deal's calls come
// from the same few numbers.
type phoneKeys struct {
	raw, norm [4]string
	n         int
}

func (p *phoneKeys) key(raw string) string {
	for i := range p.raw {
		if p.raw[i] == raw && p.norm[i] != "" {
			return p.norm[i]
		}
	}
	k := phone.Key(raw)
	i := p.n % len(p.raw)
	p.raw[i], p.norm[i] = raw, k
	p.n++
	return k
}

// missingFields returns the fields that the deal leaves empty.
func missingFields(fields []string, d *funnelwatch.Deal) []string {
	var missing []string
	for _, f := range fields {
		if empty(fieldValue(d, f)) {
			missing = append(missing, f)
		}
	}
	return missing
}

// anyMissing reports whether the deal leaves one of the fields empty.
func anyMissing(fields []string, d *funnelwatch.Deal) bool {
	for _, f := range fields {
		if empty(fieldValue(d, f)) {
			return true
		}
	}
	return false
}

func fieldValue(d *funnelwatch.Deal, name string) any {
	switch name {
	case "amount":
		if d.Amount == 0 {
			return nil
		}
		return d.Amount
	case "loss_reason":
		return d.LossReason
	case "contact":
		return d.ContactID
	case "responsible":
		return d.Responsible
	case "name":
		return d.Name
	case "source":
		return d.Source
	}
	return d.Fields[name]
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
