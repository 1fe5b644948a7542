package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Mode says what a backtest does with the automations' actions.
type Mode string

// Modes (DESIGN §4.3).
const (
	// Simulate applies the actions to the simulated funnel, as live
	// standalone mode would: what funnelwatch would have done and flagged.
	Simulate Mode = "simulate"
	// Observe takes the recorded history as it is (a CRM that ran its own
	// robots): the actions are listed, not applied.
	Observe Mode = "observe"
)

// BacktestResult is what a backtest found and did.
type BacktestResult struct {
	Violations []*Violation
	Actions    []*Action
	Skipped    []SkippedEvent
	Until      time.Time
}

// SkippedEvent is an event of the log the backtest could not place.
type SkippedEvent struct {
	Index  int
	ID     string
	Reason string
}

// Backtest runs the regulations over an event log on a simulated clock,
// from the first event to until (the last event when zero), with no store
// and no side effects. Events are taken in event-time order, ties in the
// order given; the state at an instant is the state after all its events,
// and deadlines at an instant are checked after them. Events the funnel
// or the state cannot place (an unknown deal, a stage that does not
// exist) are skipped and reported.
func Backtest(regs *regulations.Regulations, events []funnelwatch.Event, until time.Time, mode Mode) (*BacktestResult, error) {
	// A backtest is one run over a log it holds in memory whole: its
	// deals stay live (freezing them cost a tenth of the worst case's
	// speed). The live engine, which runs for months, freezes.
	r, err := backtest(regs, events, until, mode, -1)
	if err != nil {
		return nil, err
	}
	return r.res, nil
}

// backtest is Backtest with the events between two sweeps for closed
// deals to freeze (see freezer.every); it returns the replay, which holds
// the result.
func backtest(regs *regulations.Regulations, events []funnelwatch.Event, until time.Time, mode Mode, freezeEvery int) (*replay, error) {
	if mode == "" {
		mode = Simulate
	}
	if mode != Simulate && mode != Observe {
		return nil, fmt.Errorf("backtest: unknown mode %q", mode)
	}
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return events[a].At.Compare(events[b].At) })
	if until.IsZero() && len(events) > 0 {
		until = events[order[len(order)-1]].At
	}
	// The maps sized at once, to the deals and tasks the log creates: a
	// map that grows is rebuilt at each doubling.
	deals, tasks := 0, 0
	for i := range events {
		switch events[i].Type {
		case funnelwatch.EventDealCreated:
			deals++
		case funnelwatch.EventTaskCreated:
			tasks++
		}
	}
	r := &replay{regs: regs, mode: mode, aggs: make(map[string]*Aggregate, deals), taskDeal: make(map[string]string, tasks),
		best: make(map[string]string, deals), monitor: NewMonitor(regs), auto: NewAutomator(regs), res: &BacktestResult{Until: until},
		fz: freezer{every: freezeEvery}}
	if len(order) > 0 {
		r.auto.Start(events[order[0]].At)
	}
	// The event being placed and folded, copied here: placing it fills in
	// its deal. One for all of them: nothing keeps an event past its
	// turn, and a copy each escaped to the heap.
	var e funnelwatch.Event
	for _, i := range order {
		e = events[i]
		if e.At.After(until) {
			break
		}
		if !e.At.Equal(r.instant) {
			// The previous instant is complete: evaluate it, then run the
			// clock up to this event.
			r.settle()
			r.advance(e.At, false)
			r.instant = e.At
			r.sweepIfDue()
		}
		reason, a := r.placeIn(&e)
		if reason != "" {
			r.res.Skipped = append(r.res.Skipped, SkippedEvent{Index: i, ID: e.ID, Reason: reason})
			continue
		}
		r.applyTo(&e, a)
	}
	r.settle()
	r.advance(until, true)
	r.res.Violations = r.monitor.Violations()
	r.res.Actions = r.auto.Actions()
	return r, nil
}

// touch is a deal changed at the current instant, and its aggregate.
type touch struct {
	id string
	a  *Aggregate
}

// replay is the simulated funnel of a backtest.
type replay struct {
	regs *regulations.Regulations
	mode Mode
	aggs map[string]*Aggregate
	// What places an event by its task or a call by its phone (nil when
	// the events come placed, as the live engine's do).
	// By id, not by aggregate: a deal may be frozen meanwhile (freezer).
	taskDeal map[string]string
	best     map[string]string // contact → its deal, for calls without one
	monitor  *Monitor
	auto     *Automator
	res      *BacktestResult
	instant  time.Time
	touched  []touch // deals changed at the current instant
	seq      int64
	prev     funnelwatch.Deal // the deal before the event apply folds
	names    names            // one copy of each name the deals repeat
	fz       freezer          // the deals kept as records (freeze.go)
	dict     nameDict         // the names those records number

	// A backtest's action events, made in place (see act).
	actEvent funnelwatch.Event
	actTask  funnelwatch.TaskPayload
	actors   map[string]string // automation → "rule:ID"

	// Live only (nil in a backtest).
	observeUntil time.Time // actions at or before it are observed, not applied
	onAction     func(x *Action, e *funnelwatch.Event, observed bool, reason string)
	echo         map[string]bool // keys of actions applied here whose events the log has not shown yet
	seen         map[string]bool // keys of action events the log showed before the action was decided here
}

// deal returns the deal's aggregate (nil: none), thawed if it was frozen.
func (r *replay) deal(id string) *Aggregate {
	if a := r.aggs[id]; a != nil || len(r.fz.recs) == 0 {
		return a
	}
	return r.thaw(id)
}

// openDeals returns how many open deals the user is responsible for; the
// automator counts them as the deals change (a role goes to the one with
// the fewest), rather than this looking through every deal.
func (r *replay) openDeals(user string) int { return r.auto.openDeals(user) }

// settle evaluates the deals changed at the current instant, now that all
// of its events are folded.
func (r *replay) settle() {
	slices.SortFunc(r.touched, func(x, y touch) int { return strings.Compare(x.id, y.id) })
	for i, t := range r.touched {
		if i > 0 && t.id == r.touched[i-1].id {
			continue
		}
		r.monitor.Evaluate(r.instant, t.a)
		r.auto.Evaluate(r.instant, t.a)
	}
	clear(r.touched)
	r.touched = r.touched[:0]
	r.noticeFindings()
}

// noticeKey is the idempotency key of a finding's notice: the rule, what
// the finding is about and when it opened, e.g.
// "missed_call_callback:D1/C1@20261102T071500Z:notify".
func noticeKey(v *Violation) string {
	var buf [128]byte // one allocation, the string
	b := append(buf[:0], v.Rule...)
	b = append(b, ':')
	if v.DealID == "" {
		b = append(b, v.User...)
	}
	b = append(b, v.DealID...)
	for _, part := range [...]string{v.TaskID, v.CallID, v.Metric} {
		if part != "" {
			b = append(b, '/')
			b = append(b, part...)
		}
	}
	b = append(b, '@')
	b = appendStamp(b, v.OpenedAt)
	b = append(b, ":notify"...)
	return string(b)
}

// noticeFindings tells whom the rules name of the findings just opened:
// a notify action each, decided like an automation's (observed over a
// recorded history, applied after it), keyed by the finding.
func (r *replay) noticeFindings() {
	for _, v := range r.monitor.TakeNoticed() {
		q := r.monitor.byID[v.Rule]
		if q == nil {
			continue
		}
		x := &Action{Type: regulations.ActionNotify, At: v.OpenedAt, DealID: v.DealID, Rule: v.Rule,
			Trigger: regulations.TriggerFinding, Key: noticeKey(v), TaskID: v.TaskID,
			Text: v.Text.Message.RU, Channel: q.NotifyChannel}
		// responsible is the finding's accountable manager; supervisor
		// theirs.
		d := &funnelwatch.Deal{ID: v.DealID, Pipeline: v.Pipeline, Stage: v.Stage, Responsible: v.User}
		for _, to := range q.Notify {
			if who := r.auto.resolve(to, d, v.OpenedAt, r.openDeals); who != "" && !slices.Contains(x.Recipients, who) {
				x.Recipients = append(x.Recipients, who)
			}
		}
		if len(x.Recipients) > 0 {
			r.auto.record(x)
			r.act(x)
		}
	}
}

// advance runs the clock to now: the monitor's checks and the automations'
// firings due before it (or at it, when inclusive), in time order, each
// instant settled before the next.
func (r *replay) advance(now time.Time, inclusive bool) {
	for {
		tm, okM := r.monitor.NextTimer()
		tf, okF := r.auto.NextFiring()
		next, ok := tm, okM
		if okF && (!okM || tf.Before(tm)) {
			next, ok = tf, true
		}
		if !ok || next.After(now) || (!inclusive && next.Equal(now)) {
			return
		}
		if !next.Equal(r.instant) {
			r.settle()
			r.instant = next
		}
		r.monitor.Advance(next, true, r.deal)
		r.noticeFindings()
		for _, x := range r.auto.Fire(next, true, r.deal, r.openDeals) {
			r.act(x)
		}
		r.settle()
	}
}

// act carries out an action in the simulated funnel: a task, a move, a
// reassignment or a copy becomes an event folded at once (in simulate
// mode, for actions after the recorded history); notices, messages and
// webhooks change nothing in the funnel. Live, the hook takes the action
// and its event to the outbox and the log.
func (r *replay) act(x *Action) {
	if x.DealID != "" {
		r.deal(x.DealID) // a copy reads the deal from the map
	}
	observed := r.mode == Observe || (!r.observeUntil.IsZero() && !x.At.After(r.observeUntil))
	var e *funnelwatch.Event
	reason := ""
	switch {
	case observed:
	case r.seen[x.Key]:
		delete(r.seen, x.Key) // the log already had it: folded when read
	case r.onAction == nil:
		// A backtest: the event is folded and forgotten, so one will do
		// for all.
		actor := r.actors[x.Rule]
		if actor == "" {
			if r.actors == nil {
				r.actors = map[string]string{}
			}
			actor = "rule:" + x.Rule
			r.actors[x.Rule] = actor
		}
		if e = fillActionEvent(&r.actEvent, &r.actTask, x, actor, r.aggs); e != nil {
			var a *Aggregate
			if reason, a = r.placeIn(e); reason != "" {
				e = nil
			} else {
				r.applyTo(e, a)
			}
		}
	default:
		if e = actionEvent(x, r.aggs); e != nil {
			if reason = r.place(e); reason != "" {
				e = nil
			} else {
				r.apply(e)
				if r.echo != nil {
					r.echo[x.Key] = true
				}
			}
		}
	}
	if r.onAction != nil {
		r.onAction(x, e, observed, reason)
	}
}

// apply folds a placed event and tells the monitor and the automations.
func (r *replay) apply(e *funnelwatch.Event) { r.applyTo(e, nil) }

// applyTo is apply with the event's aggregate when the caller has it
// (nil: looked up).
func (r *replay) applyTo(e *funnelwatch.Event, a *Aggregate) {
	r.seq++
	if e.Seq == 0 {
		e.Seq = r.seq
	}
	var prev *funnelwatch.Deal
	if e.DealID != "" {
		if a == nil {
			a = r.deal(e.DealID)
		}
		if a == nil {
			a = newUntracked()
			r.aggs[e.DealID] = a
		}
		if a.Deal != nil {
			// The deal as it was, for the monitor and the automations to
			// compare with; none of them keeps it past the call.
			r.prev = *a.Deal
			prev = &r.prev
		}
		a.Apply(&r.regs.Funnel, e)
		r.share(e, a)
		r.touchedDeal(e.DealID)
		if e.Task != nil && r.taskDeal != nil {
			r.taskDeal[e.Task.ID] = e.DealID
		}
		if d := a.Deal; d != nil && d.ContactID != "" && r.best != nil {
			if cur := r.best[d.ContactID]; cur != e.DealID { // else already the contact's deal
				if c := r.deal(cur); c == nil || betterDeal(d, c.Deal) {
					r.best[d.ContactID] = e.DealID
				}
			}
		}
		r.touched = append(r.touched, touch{e.DealID, a})
	}
	r.monitor.Observe(e, prev, a, r.deal)
	r.auto.OnEvent(e, prev, a)
}

// share makes the deal and the task an event folded point to one copy of
// each name (pipeline, stage, user, source, task kind): decoded from the
// log, every event brings its own copies, which the deals held on to for
// as long as they stayed open.
func (r *replay) share(e *funnelwatch.Event, a *Aggregate) {
	d := a.Deal
	if d == nil {
		return
	}
	switch e.Type {
	case funnelwatch.EventDealCreated:
		if d.ID == e.DealID {
			// The event's deal id is the replay's key of the deal (and
			// what its tasks, monitor and robot state name it by); the
			// payload's copy of it need not stay.
			d.ID = e.DealID
		}
		d.Pipeline, d.Stage = r.names.of(d.Pipeline), r.names.of(d.Stage)
		d.Responsible, d.Source = r.names.of(d.Responsible), r.names.of(d.Source)
	case funnelwatch.EventDealResponsibleChanged:
		d.Responsible = r.names.of(d.Responsible)
	case funnelwatch.EventTaskCreated:
		if t := a.Tasks.Get(e.Task.ID); t != nil {
			t.Assignee, t.Kind, t.CreatedBy = r.names.of(t.Assignee), r.names.of(t.Kind), r.names.of(t.CreatedBy)
		}
	}
}

// names keeps one copy of each name, up to a bound (a source or a user
// id that is really free text is not worth keeping).
type names map[string]string

const maxNames = 10000

func (n *names) of(s string) string {
	if s == "" {
		return s
	}
	if v, ok := (*n)[s]; ok {
		return v
	}
	if *n == nil {
		*n = names{}
	}
	if len(*n) < maxNames {
		(*n)[s] = s
	}
	return s
}

// actionEvent is the event an action makes in a simulation; nil for the
// actions that change nothing in the funnel (notices, messages, webhooks).
func actionEvent(x *Action, aggs map[string]*Aggregate) *funnelwatch.Event {
	return fillActionEvent(new(funnelwatch.Event), new(funnelwatch.TaskPayload), x, "rule:"+x.Rule, aggs)
}

// fillActionEvent is actionEvent into e (and t, for a task), with the
// actor given.
func fillActionEvent(e *funnelwatch.Event, t *funnelwatch.TaskPayload, x *Action, actor string, aggs map[string]*Aggregate) *funnelwatch.Event {
	switch x.Type {
	case regulations.ActionTask, regulations.ActionMove, regulations.ActionAssign, regulations.ActionCopy:
	default:
		return nil // no event: its id is not made
	}
	*e = funnelwatch.Event{ID: x.EventID(), At: x.At, Actor: actor, DealID: x.DealID}
	switch x.Type {
	case regulations.ActionTask:
		e.Type = funnelwatch.EventTaskCreated
		*t = funnelwatch.TaskPayload{ID: x.TaskID, DealID: x.DealID, Assignee: x.Assignee, Due: x.Due, Text: x.Text, Kind: x.Kind}
		e.Task = t
	case regulations.ActionMove:
		e.Type, e.ToStage = funnelwatch.EventDealStageChanged, x.To
	case regulations.ActionAssign:
		e.Type, e.To = funnelwatch.EventDealResponsibleChanged, x.To
	case regulations.ActionCopy:
		src := aggs[x.DealID]
		if src == nil || src.Deal == nil {
			return nil
		}
		d := src.Deal
		pipeline, stage, _ := strings.Cut(x.To, "/")
		e.Type, e.DealID = funnelwatch.EventDealCreated, ""
		e.Deal = &funnelwatch.DealPayload{ID: x.NewDealID, Pipeline: pipeline, Stage: stage, Responsible: d.Responsible,
			Source: "repeat:" + d.ID, Name: d.Name, Contact: contactInfo(d.ContactID)}
	}
	return e
}

// contactInfo turns a contact id back into what a new deal names.
func contactInfo(id string) *funnelwatch.ContactInfo {
	if p, ok := strings.CutPrefix(id, "tel:"); ok {
		return &funnelwatch.ContactInfo{Phone: p}
	}
	if m, ok := strings.CutPrefix(id, "mail:"); ok {
		return &funnelwatch.ContactInfo{Email: m}
	}
	return nil
}

// place resolves the deal an event is about, the same way ingest does,
// and says why it cannot when it cannot.
func (r *replay) place(e *funnelwatch.Event) string {
	reason, _ := r.placeIn(e)
	return reason
}

// placeIn is place, also returning the deal's aggregate when it found it
// (nil for a new deal, or a call placed on none), for applyTo.
func (r *replay) placeIn(e *funnelwatch.Event) (string, *Aggregate) {
	f := &r.regs.Funnel
	switch e.Type {
	case funnelwatch.EventDealCreated:
		if _, ok := f.Pipeline(e.Deal.Pipeline); !ok {
			return fmt.Sprintf("unknown pipeline %q", e.Deal.Pipeline), nil
		}
		if a := r.deal(e.Deal.ID); a != nil && a.Deal != nil {
			return fmt.Sprintf("deal %q already exists", e.Deal.ID), nil
		}
		e.DealID = e.Deal.ID
		return "", nil
	case funnelwatch.EventTaskCompleted, funnelwatch.EventTaskDeleted, funnelwatch.EventTaskRescheduled:
		// The task's deal, placed when the task was created.
		a := r.deal(r.taskDeal[e.TaskID])
		if a == nil || a.Deal == nil {
			return fmt.Sprintf("unknown task %q", e.TaskID), nil
		}
		e.DealID = a.Deal.ID
		return "", a
	case funnelwatch.EventCall:
		if e.DealID = e.Call.DealID; e.DealID == "" {
			if id, _ := contactKey(&funnelwatch.ContactInfo{Phone: e.Call.Phone}); id != "" {
				if a := r.deal(r.best[id]); a != nil {
					e.DealID = a.Deal.ID
					return "", a
				}
			}
			return "", nil
		}
	default:
		e.DealID = e.DealRef()
	}
	a := r.deal(e.DealID)
	if a == nil || a.Deal == nil {
		return fmt.Sprintf("unknown deal %q", e.DealID), nil
	}
	if e.Type == funnelwatch.EventDealStageChanged {
		if p := a.Deal.Pipeline; !knownStage(f, p, e.ToStage) {
			return fmt.Sprintf("unknown stage %q (deal %q is in pipeline %q)", e.ToStage, e.DealID, p), nil
		}
	}
	return "", a
}

func knownStage(f *funnelwatch.Funnel, pipeline, ref string) bool {
	_, ok := f.ResolveStage(pipeline, ref)
	return ok
}
