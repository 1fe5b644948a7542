package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/phone"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Action is what an automation decided to do: the outbox entry of an
// action, and in a simulation also the change it makes.
type Action struct {
	Type    regulations.ActionKind
	At      time.Time
	DealID  string
	Rule    string // the automation's id
	Trigger regulations.Trigger
	// Key is the idempotency key: the automation, what triggered it (an
	// event id, or the deadline that passed) and the action's index.
	Key string

	TaskID     string     // task: the task created
	Assignee   string     // task: who does it
	Text       string     // task
	Due        *time.Time // task
	Kind       string     // task
	To         string     // move, copy: "pipeline/stage"; assign: the user
	NewDealID  string     // copy: the new deal
	Recipients []string   // notify: user ids, chat:ID, email:ADDR
	Template   string     // message
	Channel    string     // message
	URL        string     // webhook
}

// firing is an automation due to act once its delay has passed (if its
// trigger still holds then).
type firing struct {
	at    time.Time
	auto  *regulations.Automation
	deal  string
	task  string
	cause string    // what triggered it, for the idempotency key
	mark  time.Time // the state the trigger is about (stage entry, task due, …)
	value string    // responsible.changed, field.changed: the value it changed to
}

// Automator runs the regulations' automations (robots): on events, on
// deadlines (task overdue, idle, stage SLA, lifetime), on a schedule, each
// with its delay and the check that its trigger still holds. Like the
// Monitor it is told the events and the passing of time and never reads a
// clock.
type Automator struct {
	regs    *regulations.Regulations
	autos   []*regulations.Automation
	queue   agenda[firing]
	queued  map[instance]bool    // deadline firings waiting
	done    map[instance]bool    // deadline triggers already fired
	rr      map[string]int       // round-robin position by role
	callOut map[string]time.Time // last outbound call by phone
	actions []*Action
}

// NewAutomator returns an automator of the regulations' automations,
// including each pipeline's lifetime action.
func NewAutomator(regs *regulations.Regulations) *Automator {
	a := &Automator{regs: regs, queued: map[instance]bool{}, done: map[instance]bool{}, rr: map[string]int{}, callOut: map[string]time.Time{}}
	for i := range regs.Automations {
		a.autos = append(a.autos, &regs.Automations[i])
	}
	for _, p := range regs.Pipelines {
		then := regs.Lifetimes[p.ID]
		if then == nil || p.Lifetime == 0 {
			continue
		}
		do := []regulations.Action{{Kind: regulations.ActionMove, MoveTo: then.MoveTo}}
		if !then.Assign.IsZero() {
			do = append(do, regulations.Action{Kind: regulations.ActionAssign, Assign: then.Assign})
		}
		a.autos = append(a.autos, &regulations.Automation{ID: p.ID + ".lifetime", When: regulations.TriggerLifetime,
			Pipelines: []string{p.ID}, Do: do})
	}
	return a
}

// Actions returns every action decided so far, in order.
func (a *Automator) Actions() []*Action { return a.actions }

func (a *Automator) push(f firing) { a.queue.add(f.at, f) }

// inScope reports whether the automation applies to the deal where it is.
func inScope(au *regulations.Automation, d *funnelwatch.Deal) bool {
	if len(au.Pipelines) > 0 && !slices.Contains(au.Pipelines, d.Pipeline) {
		return false
	}
	if au.Stage != "" && au.When != regulations.TriggerStageEntered && au.Stage != d.Pipeline+"/"+d.Stage {
		return false
	}
	return true
}

// OnEvent looks for the automations an event triggers; prev is the deal
// before the event (nil for a new deal).
func (a *Automator) OnEvent(e *funnelwatch.Event, prev *funnelwatch.Deal, agg *Aggregate) {
	if e.Type == funnelwatch.EventCall && e.Call != nil && e.Call.Direction == funnelwatch.DirectionOut {
		a.callOut[phone.Key(e.Call.Phone)] = e.At
	}
	if agg == nil || agg.Deal == nil {
		if e.Type == funnelwatch.EventCall && e.Call != nil && e.Call.Direction == funnelwatch.DirectionIn && !e.Call.Answered {
			a.trigger(regulations.TriggerCallMissed, e, nil, "")
		}
		return
	}
	d := agg.Deal
	entered := prev == nil || prev.Pipeline != d.Pipeline || prev.Stage != d.Stage
	switch e.Type {
	case funnelwatch.EventDealCreated:
		a.trigger(regulations.TriggerDealCreated, e, agg, "")
	case funnelwatch.EventDealUpdated:
		for _, au := range a.autos {
			if au.When == regulations.TriggerFieldChanged && fieldChanged(au.Field, prev, d) {
				a.consider(au, e, agg, "", e.ID, e.At)
			}
		}
	case funnelwatch.EventDealResponsibleChanged:
		if prev != nil && prev.Responsible != d.Responsible {
			a.trigger(regulations.TriggerResponsibleChanged, e, agg, "")
			for _, au := range a.autos {
				if au.When == regulations.TriggerFieldChanged && au.Field == "responsible" {
					a.consider(au, e, agg, "", e.ID, e.At)
				}
			}
		}
	case funnelwatch.EventCall:
		if e.Call.Direction == funnelwatch.DirectionIn && !e.Call.Answered {
			a.trigger(regulations.TriggerCallMissed, e, agg, "")
		}
	}
	if entered && (e.Type == funnelwatch.EventDealCreated || e.Type == funnelwatch.EventDealStageChanged) {
		for _, au := range a.autos {
			if au.When == regulations.TriggerStageEntered && (au.Stage == "" || au.Stage == d.Pipeline+"/"+d.Stage) {
				a.consider(au, e, agg, "", e.ID, d.StageEnteredAt)
			}
		}
		switch d.Status {
		case funnelwatch.DealWon:
			a.trigger(regulations.TriggerDealWon, e, agg, "")
		case funnelwatch.DealLost:
			a.trigger(regulations.TriggerDealLost, e, agg, "")
		}
	}
}

func fieldChanged(field string, prev, d *funnelwatch.Deal) bool {
	if prev == nil {
		return false
	}
	return fmt.Sprint(fieldValue(prev, field)) != fmt.Sprint(fieldValue(d, field))
}

// trigger considers every automation with the trigger for an event.
func (a *Automator) trigger(t regulations.Trigger, e *funnelwatch.Event, agg *Aggregate, task string) {
	for _, au := range a.autos {
		if au.When == t {
			a.consider(au, e, agg, task, e.ID, e.At)
		}
	}
}

// consider queues an automation whose trigger happened: it acts at once,
// or after its delay if the trigger still holds then.
func (a *Automator) consider(au *regulations.Automation, e *funnelwatch.Event, agg *Aggregate, task, cause string, mark time.Time) {
	deal := ""
	if agg != nil && agg.Deal != nil {
		if !inScope(au, agg.Deal) {
			return
		}
		deal = agg.Deal.ID
	} else if au.When != regulations.TriggerCallMissed && au.When != regulations.TriggerSchedule {
		return
	}
	f := firing{at: e.At.Add(au.After), auto: au, deal: deal, task: task, cause: cause, mark: mark}
	if agg != nil && agg.Deal != nil {
		switch au.When {
		case regulations.TriggerResponsibleChanged:
			f.value = agg.Deal.Responsible
		case regulations.TriggerFieldChanged:
			f.value = fmt.Sprint(fieldValue(agg.Deal, au.Field))
		}
	}
	if e.Type == funnelwatch.EventCall && e.Call != nil {
		f.task = phone.Key(e.Call.Phone) // the number whose callback is awaited
	}
	a.push(f)
}

// Evaluate schedules the time-driven triggers of a deal as it is now:
// tasks falling overdue, idleness, the stage's SLA, the pipeline's
// lifetime. Each fires once per deadline.
func (a *Automator) Evaluate(now time.Time, agg *Aggregate) {
	if agg == nil || agg.Deal == nil {
		return
	}
	d := agg.Deal
	for _, au := range a.autos {
		if !inScope(au, d) {
			continue
		}
		switch au.When {
		case regulations.TriggerTaskOverdue:
			for _, t := range openTasks(agg) {
				if t.Due != nil && taskCounts(d, t) && t.CreatedBy != "rule:"+au.ID {
					a.deadline(au, now, later(*t.Due, t.CreatedAt), d.ID, t.ID, *t.Due)
				}
			}
		case regulations.TriggerDealIdle:
			if d.Open() && au.Idle > 0 {
				a.deadline(au, now, d.LastEventAt.Add(au.Idle), d.ID, "", d.LastEventAt)
			}
		case regulations.TriggerStageSLA:
			if st, ok := a.regs.ResolveStage(d.Pipeline, d.Stage); ok && d.Open() && st.SLA > 0 {
				a.deadline(au, now, d.StageEnteredAt.Add(st.SLA), d.ID, "", d.StageEnteredAt)
			}
		case regulations.TriggerLifetime:
			if p, ok := a.regs.Pipeline(d.Pipeline); ok && d.Open() && p.Lifetime > 0 {
				a.deadline(au, now, d.PipelineEnteredAt.Add(p.Lifetime), d.ID, "", d.PipelineEnteredAt)
			}
		}
	}
}

// instance identifies a deadline trigger: the automation, the deal, the
// task and the state's mark (the due time, the stage entry…).
type instance struct {
	auto       *regulations.Automation
	deal, task string
	mark       int64
}

func (f *firing) instance() instance {
	return instance{f.auto, f.deal, f.task, f.mark.UnixNano()}
}

// deadline queues the check of a time-driven trigger at when, once per
// instance.
func (a *Automator) deadline(au *regulations.Automation, now, when time.Time, deal, task string, mark time.Time) {
	key := instance{au, deal, task, mark.UnixNano()}
	if a.done[key] || a.queued[key] {
		return
	}
	a.queued[key] = true
	// The trigger happens at the deadline; the automation acts after its
	// delay, if the trigger still holds then.
	a.push(firing{at: later(when, now).Add(au.After), auto: au, deal: deal, task: task, mark: mark})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// openTasks returns the aggregate's open tasks in id order.
func openTasks(agg *Aggregate) []*funnelwatch.Task {
	ts := make([]*funnelwatch.Task, 0, 4)
	for _, t := range agg.Tasks {
		if t.Open() {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(x, y *funnelwatch.Task) int { return strings.Compare(x.ID, y.ID) })
	return ts
}

// taskCounts reports whether an open task of the deal still counts: tasks
// open when the deal closed stop counting; a task set on a closed deal
// afterwards is an ordinary task.
func taskCounts(d *funnelwatch.Deal, t *funnelwatch.Task) bool {
	if d.DeletedAt != nil {
		return false
	}
	return d.Open() || (d.ClosedAt != nil && !t.CreatedAt.Before(*d.ClosedAt))
}

// NextFiring returns when the next firing is due, if any.
func (a *Automator) NextFiring() (time.Time, bool) {
	return a.queue.next()
}

// Start schedules the scheduled (cron) automations from the moment the
// clock starts.
func (a *Automator) Start(from time.Time) {
	for _, au := range a.autos {
		if au.When == regulations.TriggerSchedule && au.Schedule != nil {
			next := au.Schedule.Next(from.In(a.regs.Location))
			a.push(firing{at: next, auto: au, cause: "cron", mark: next})
		}
	}
}

// Fire acts on the firings due before now (or at now, when inclusive)
// whose trigger still holds, and returns the actions, in order. A
// scheduled automation is scheduled again for its next time.
func (a *Automator) Fire(now time.Time, inclusive bool, deal func(id string) *Aggregate, openDeals func(user string) int) []*Action {
	var out []*Action
	for {
		_, f, ok := a.queue.pop(now, inclusive)
		if !ok {
			break
		}
		if isTimeDriven(f.auto.When) {
			delete(a.queued, f.instance())
		}
		au := f.auto
		var agg *Aggregate
		if f.deal != "" {
			agg = deal(f.deal)
		}
		if au.When == regulations.TriggerSchedule {
			next := au.Schedule.Next(f.at.In(a.regs.Location))
			a.push(firing{at: next, auto: au, cause: "cron", mark: next})
		}
		if !a.holds(f, agg) || !condition(au, agg) {
			continue
		}
		if isTimeDriven(au.When) {
			a.done[f.instance()] = true
		}
		cause := f.cause
		switch {
		case au.When == regulations.TriggerSchedule:
			cause = "cron@" + stamp(f.mark)
		case isTimeDriven(au.When):
			subject := f.deal
			if f.task != "" {
				subject = f.task
			}
			cause = subject + "@" + stamp(f.mark)
		}
		for i, act := range au.Do {
			if x := a.act(f, agg, act, fmt.Sprintf("%s:%s:%d", au.ID, cause, i), openDeals); x != nil {
				out = append(out, x)
			}
		}
	}
	a.actions = append(a.actions, out...)
	return out
}

func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

func isTimeDriven(t regulations.Trigger) bool {
	switch t {
	case regulations.TriggerTaskOverdue, regulations.TriggerDealIdle, regulations.TriggerStageSLA, regulations.TriggerLifetime:
		return true
	}
	return false
}

// holds reports whether the trigger of a firing still holds at its time.
func (a *Automator) holds(f firing, agg *Aggregate) bool {
	au := f.auto
	switch au.When {
	case regulations.TriggerSchedule:
		return true
	case regulations.TriggerCallMissed:
		// Any later outbound call to the number is the callback.
		return !a.callOut[f.task].After(f.mark)
	}
	if agg == nil || agg.Deal == nil || agg.Deal.DeletedAt != nil {
		return false
	}
	d := agg.Deal
	switch au.When {
	case regulations.TriggerTaskOverdue:
		t := agg.Tasks[f.task]
		return t != nil && t.Open() && t.Due != nil && t.Due.Equal(f.mark) && taskCounts(d, t) && !f.at.Before(*t.Due)
	case regulations.TriggerDealIdle:
		return d.Open() && d.LastEventAt.Equal(f.mark)
	case regulations.TriggerStageSLA, regulations.TriggerStageEntered:
		return d.StageEnteredAt.Equal(f.mark) && (au.When != regulations.TriggerStageSLA || d.Open())
	case regulations.TriggerLifetime:
		return d.Open() && d.PipelineEnteredAt.Equal(f.mark)
	case regulations.TriggerDealWon:
		return d.Status == funnelwatch.DealWon
	case regulations.TriggerDealLost:
		return d.Status == funnelwatch.DealLost
	case regulations.TriggerResponsibleChanged:
		return d.Responsible == f.value
	case regulations.TriggerFieldChanged:
		return fmt.Sprint(fieldValue(d, au.Field)) == f.value
	}
	return true
}

// act turns one action of a firing into an Action.
func (a *Automator) act(f firing, agg *Aggregate, spec regulations.Action, key string, openDeals func(string) int) *Action {
	var d *funnelwatch.Deal
	if agg != nil {
		d = agg.Deal
	}
	x := &Action{Type: spec.Kind, At: f.at, Rule: f.auto.ID, Trigger: f.auto.When, Key: key}
	if d != nil {
		x.DealID = d.ID
	}
	switch spec.Kind {
	case regulations.ActionTask:
		if d == nil {
			return nil
		}
		t := spec.Task
		x.TaskID, x.Text, x.Kind = key, t.Text, t.Kind
		if x.Kind == "" {
			x.Kind = funnelwatch.TaskFollowUp
		}
		x.Assignee = a.resolve(t.Assignee, d, f.at, openDeals)
		if x.Assignee == "" {
			x.Assignee = d.Responsible
		}
		due := f.at.Add(t.Due)
		x.Due = &due
	case regulations.ActionMove:
		if d == nil {
			return nil
		}
		x.To = spec.MoveTo
	case regulations.ActionAssign:
		if d == nil {
			return nil
		}
		x.To = a.resolve(spec.Assign, d, f.at, openDeals)
		if x.To == "" {
			return nil
		}
	case regulations.ActionCopy:
		if d == nil {
			return nil
		}
		x.To, x.NewDealID = spec.MoveTo, key
	case regulations.ActionNotify:
		for _, r := range spec.Notify {
			if who := a.resolve(r, d, f.at, openDeals); who != "" && !slices.Contains(x.Recipients, who) {
				x.Recipients = append(x.Recipients, who)
			}
		}
		if f.task != "" && f.auto.When == regulations.TriggerTaskOverdue {
			x.TaskID = f.task
		}
	case regulations.ActionMessage:
		x.Template, x.Channel = spec.Message.Template, spec.Message.Channel
	case regulations.ActionWebhook:
		x.URL = spec.Webhook.URL
	}
	return x
}

// resolve turns an assignee or recipient form into a user id (or the
// chat:/email: form as it is); "" when it names nobody.
func (a *Automator) resolve(asg regulations.Assignee, d *funnelwatch.Deal, at time.Time, openDeals func(string) int) string {
	switch asg.Kind {
	case regulations.AssignResponsible:
		if d != nil {
			return d.Responsible
		}
	case regulations.AssignSupervisor:
		if d != nil {
			if u, ok := a.regs.User(d.Responsible); ok {
				return u.Supervisor
			}
		}
	case regulations.AssignUser:
		return asg.Value
	case regulations.AssignChat, regulations.AssignEmail:
		return asg.String()
	case regulations.AssignRole, regulations.AssignRoundRobin:
		cands := a.candidates(asg.Value, at)
		if len(cands) == 0 {
			return ""
		}
		if asg.Kind == regulations.AssignRoundRobin {
			i := a.rr[asg.Value] % len(cands)
			a.rr[asg.Value]++
			return cands[i]
		}
		best := cands[0]
		for _, c := range cands[1:] {
			if openDeals(c) < openDeals(best) {
				best = c
			}
		}
		return best
	}
	return ""
}

// candidates lists, by id, the users with the role or sales role who are
// on shift at the moment (all of them when nobody is).
func (a *Automator) candidates(role string, at time.Time) []string {
	var all, onShift []string
	local := at.In(a.regs.Location)
	for _, u := range a.regs.Users {
		if string(u.Role) != role && u.SalesRole != role {
			continue
		}
		all = append(all, u.ID)
		if u.Schedule.OnShift(local) {
			onShift = append(onShift, u.ID)
		}
	}
	if len(onShift) > 0 {
		slices.Sort(onShift)
		return onShift
	}
	slices.Sort(all)
	return all
}
