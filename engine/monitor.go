package engine

import (
	"slices"
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
}

// vkey identifies a condition: a rule on a deal, a task or a call.
type vkey struct{ rule, deal, task, call string }

// byDeal keeps values by condition, grouped by deal, so that evaluating a
// deal looks at its own conditions only.
type byDeal[V any] map[string]map[vkey]V

func (b byDeal[V]) get(k vkey) (V, bool) {
	v, ok := b[k.deal][k]
	return v, ok
}

func (b byDeal[V]) set(k vkey, v V) {
	m := b[k.deal]
	if m == nil {
		m = map[vkey]V{}
		b[k.deal] = m
	}
	m[k] = v
}

func (b byDeal[V]) del(k vkey) {
	if m := b[k.deal]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(b, k.deal)
		}
	}
}

// Monitor evaluates the quality rules of the regulations as conditions
// over time (DESIGN §5). It is told each event after the event is folded,
// and the passing of time by Advance; it never reads a clock, so a
// simulated clock gives the same findings as the wall clock.
type Monitor struct {
	regs  *regulations.Regulations
	rules []*regulations.QualityRule
	byID  map[string]*regulations.QualityRule

	open           byDeal[*Violation]
	all            []*Violation
	since          byDeal[time.Time] // when a condition that is waiting out its grace became true
	timers         agenda[timer]
	scheduled      map[timer]bool           // the checks on the agenda
	missed         map[string][]*missedCall // unanswered inbound calls by phone
	acts           map[string]*activity     // what the activity rules remember, by deal
	closings       map[string][]closing     // recent losses by manager, for mass closing
	calls          []callFact               // answered calls of the last days, for anomalies
	wins           []winFact
	anomalyStarted bool
}

type missedCall struct {
	id, deal, user string
	deadline       time.Time // the callback limit plus grace
}

// NewMonitor returns a monitor of the regulations' quality rules.
func NewMonitor(regs *regulations.Regulations) *Monitor {
	m := &Monitor{regs: regs, open: byDeal[*Violation]{}, since: byDeal[time.Time]{}, missed: map[string][]*missedCall{},
		scheduled: map[timer]bool{}}
	m.byID = map[string]*regulations.QualityRule{}
	for i := range regs.Quality {
		r := &regs.Quality[i]
		m.rules = append(m.rules, r)
		if m.byID[r.ID] == nil { // anomaly may be listed once per metric
			m.byID[r.ID] = r
		}
	}
	return m
}

// Violations returns every finding so far, in the order they opened.
func (m *Monitor) Violations() []*Violation { return m.all }

// timer is a check of a deal's or a phone's conditions at a moment, or
// the daily comparison of the managers.
type timer struct {
	at    time.Time
	deal  string
	phone string
	kind  string
}

const timerAnomaly = "anomaly"

// schedule adds a check, once per moment and target.
func (m *Monitor) schedule(t timer) {
	if m.scheduled[t] {
		return
	}
	m.scheduled[t] = true
	m.timers.add(t.at, t)
}

// Advance fires the timers due before now (or at now, when inclusive):
// deadlines at the instant of an event are checked after it, so callers
// pass inclusive=false before applying the events at now, and true at the
// end of a run.
func (m *Monitor) Advance(now time.Time, inclusive bool, deal func(id string) *Aggregate) {
	for {
		_, t, ok := m.timers.pop(now, inclusive)
		if !ok {
			return
		}
		delete(m.scheduled, t)
		if t.kind == timerAnomaly {
			m.checkAnomalies(t.at)
			continue
		}
		if t.phone != "" {
			m.checkCallbacks(t.at, t.phone, deal)
			continue
		}
		if a := deal(t.deal); a != nil {
			m.evaluate(t.at, a)
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
	switch e.Type {
	case funnelwatch.EventDealStageChanged, funnelwatch.EventDealCreated:
		if a != nil && a.Deal != nil {
			m.instant(e.At, e, prev, a.Deal)
		}
	case funnelwatch.EventCall:
		m.call(e.At, e, deal)
	}
	m.observeActivity(e, prev, a)
	m.recordForAnomaly(e, prev, a)
}

// Evaluate brings the deal's state findings up to date at now.
func (m *Monitor) Evaluate(now time.Time, a *Aggregate) {
	if a != nil && a.Deal != nil {
		m.evaluate(now, a)
	}
}

// ruleFor returns the enabled rule with the id that applies to the deal
// where it is now.
func (m *Monitor) ruleFor(id string, d *funnelwatch.Deal) *regulations.QualityRule {
	r := m.byID[id]
	if r == nil {
		return nil
	}
	if len(r.Pipelines) > 0 && !slices.Contains(r.Pipelines, d.Pipeline) {
		return nil
	}
	if len(r.Stages) > 0 && !slices.Contains(r.Stages, d.Pipeline+"/"+d.Stage) {
		return nil
	}
	return r
}

// instant opens and resolves at once the findings of a single moment:
// a backward move, a loss without a reason, a closing stage entered with
// required fields empty.
func (m *Monitor) instant(now time.Time, e *funnelwatch.Event, prev, d *funnelwatch.Deal) {
	p, ok := m.regs.Pipeline(d.Pipeline)
	if !ok {
		return
	}
	st, ok := p.Stage(d.Stage)
	if !ok {
		return
	}
	entered := prev == nil || prev.Pipeline != d.Pipeline || prev.Stage != d.Stage
	if !entered {
		return
	}
	if prev != nil && prev.Pipeline == d.Pipeline {
		if old, ok := p.Stage(prev.Stage); ok && isBackward(old, st) {
			if r := m.ruleFor(regulations.RuleBackwardMove, d); r != nil {
				m.flash(now, r, d, "")
			}
		}
	}
	if st.Type == funnelwatch.StageLost && d.LossReason == "" {
		if r := m.ruleFor(regulations.RuleLostWithoutReason, d); r != nil {
			m.flash(now, r, d, "")
		}
	}
	if st.Type.Closed() && len(missingFields(st, d, m.ruleFor(regulations.RuleRequiredFields, d))) > 0 {
		if r := m.ruleFor(regulations.RuleRequiredFields, d); r != nil {
			m.flash(now, r, d, "")
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
func (m *Monitor) flash(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, task string) {
	m.flashFor(now, r, d, task, d.Responsible)
}

// flashFor is flash accountable to a given user.
func (m *Monitor) flashFor(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, task, user string) {
	v := m.newViolation(now, r, d, task, "", user)
	at := now
	v.ResolvedAt = &at
}

func (m *Monitor) newViolation(now time.Time, r *regulations.QualityRule, d *funnelwatch.Deal, task, call, user string) *Violation {
	v := &Violation{Rule: r.ID, Severity: r.Severity, TaskID: task, CallID: call, User: user, OpenedAt: now, Text: TextOf(r)}
	if v.Severity == "" {
		v.Severity = regulations.SeverityViolation
	}
	if d != nil {
		v.DealID, v.Pipeline, v.Stage = d.ID, d.Pipeline, d.Stage
	}
	m.all = append(m.all, v)
	return v
}

// cond is a condition of a state rule that holds now, or will from a
// moment (threshold) unless something changes first.
type cond struct {
	key       vkey
	rule      *regulations.QualityRule
	user      string
	threshold time.Time // zero: holds now; else holds from then
}

// conditions lists the state rules' conditions on the aggregate now.
func (m *Monitor) conditions(a *Aggregate) []cond {
	d := a.Deal
	var out []cond
	addCall := func(rule, task, call, user string, threshold time.Time) {
		if r := m.ruleFor(rule, d); r != nil {
			out = append(out, cond{key: vkey{rule: r.ID, deal: d.ID, task: task, call: call}, rule: r, user: user, threshold: threshold})
		}
	}
	add := func(rule string, task, user string, threshold time.Time) { addCall(rule, task, "", user, threshold) }
	dealOpen := d.Open()
	nOpen := 0
	for _, t := range openTasks(a) {
		nOpen++
		if !taskCounts(d, t) {
			continue
		}
		user := t.Assignee
		if user == "" {
			user = d.Responsible
		}
		if t.Due == nil {
			add(regulations.RuleTaskNoDue, t.ID, user, time.Time{})
		} else {
			add(regulations.RuleTaskOverdue, t.ID, user, *t.Due)
		}
	}
	if !dealOpen {
		return out
	}
	if nOpen == 0 {
		add(regulations.RuleNoNextTask, "", d.Responsible, time.Time{})
	}
	p, ok := m.regs.Pipeline(d.Pipeline)
	if !ok {
		return out
	}
	st, _ := p.Stage(d.Stage)
	m.activityConditions(a, st, addCall)
	if p.Lifetime > 0 {
		add(regulations.RulePipelineLifetime, "", d.Responsible, d.PipelineEnteredAt.Add(p.Lifetime))
	}
	if st == nil {
		return out
	}
	if st.SLA > 0 {
		add(regulations.RuleStageSLA, "", d.Responsible, d.StageEnteredAt.Add(st.SLA))
	}
	if len(missingFields(st, d, m.ruleFor(regulations.RuleRequiredFields, d))) > 0 {
		add(regulations.RuleRequiredFields, "", d.Responsible, time.Time{})
	}
	return out
}

// evaluate brings the deal's state findings up to date at now: conditions
// that hold (past their grace) open, those that no longer hold resolve,
// and the moments at which something may change get timers.
func (m *Monitor) evaluate(now time.Time, a *Aggregate) {
	d := a.Deal
	holding := map[vkey]bool{}
	for _, c := range m.conditions(a) {
		if !c.threshold.IsZero() && now.Before(c.threshold) {
			m.schedule(timer{at: c.threshold, deal: d.ID})
			continue
		}
		holding[c.key] = true
		if _, open := m.open.get(c.key); open {
			continue
		}
		since, ok := m.since.get(c.key)
		if !ok {
			since = now
			m.since.set(c.key, since)
		}
		if deadline := since.Add(c.rule.Grace); now.Before(deadline) {
			m.schedule(timer{at: deadline, deal: d.ID})
			continue
		}
		m.open.set(c.key, m.newViolation(now, c.rule, d, c.key.task, c.key.call, c.user))
		m.since.del(c.key)
	}
	// Callback findings belong to the phone, not the deal's state.
	for k := range m.since[d.ID] {
		if k.rule != regulations.RuleMissedCallCallback && !holding[k] {
			m.since.del(k)
		}
	}
	for k, v := range m.open[d.ID] {
		if k.rule != regulations.RuleMissedCallCallback && !holding[k] {
			at := now
			v.ResolvedAt = &at
			m.open.del(k)
		}
	}
}

// call handles the callback rule: an unanswered inbound call waits for an
// outbound call to the same number; any later one is the callback.
func (m *Monitor) call(now time.Time, e *funnelwatch.Event, deal func(id string) *Aggregate) {
	c := e.Call
	key := phone.Key(c.Phone)
	if key == "" {
		return
	}
	if c.Direction == funnelwatch.DirectionOut {
		for _, mc := range m.missed[key] {
			k := vkey{rule: regulations.RuleMissedCallCallback, deal: mc.deal, call: mc.id}
			if v, ok := m.open.get(k); ok {
				at := now
				v.ResolvedAt = &at
				m.open.del(k)
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
	mc := &missedCall{id: c.ID, deal: e.DealID, user: user, deadline: c.StartedAt.Add(limit + r.Grace)}
	m.missed[key] = append(m.missed[key], mc)
	m.schedule(timer{at: mc.deadline, phone: key})
}

func (m *Monitor) callRule(d *funnelwatch.Deal) *regulations.QualityRule {
	if d != nil {
		return m.ruleFor(regulations.RuleMissedCallCallback, d)
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
		k := vkey{rule: regulations.RuleMissedCallCallback, deal: mc.deal, call: mc.id}
		if _, open := m.open.get(k); open || mc.deadline.After(now) {
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
		m.open.set(k, m.newViolation(now, r, d, "", mc.id, mc.user))
	}
}

// missingFields returns the required fields of the stage (and the rule's
// extra ones) that the deal leaves empty.
func missingFields(st *funnelwatch.Stage, d *funnelwatch.Deal, r *regulations.QualityRule) []string {
	fields := st.RequiredFields
	if r != nil && len(r.Fields) > 0 {
		fields = append(slices.Clone(fields), r.Fields...)
	}
	var missing []string
	for _, f := range fields {
		if empty(fieldValue(d, f)) {
			missing = append(missing, f)
		}
	}
	return missing
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
