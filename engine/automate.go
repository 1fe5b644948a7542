package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
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

	due     time.Time // what Due points to: one allocation, not two
	eventID string    // "act:" + Key, Key its tail (empty: not made yet)
}

// notifyAction is a notify action with room for its recipients.
type notifyAction struct {
	Action
	to [2]string
}

// actPrefix begins the id of the event an action makes.
const actPrefix = "act:"

// EventID returns the id of the event the action makes: "act:" + Key.
func (x *Action) EventID() string {
	if x.eventID != "" && x.eventID[len(actPrefix):] == x.Key {
		return x.eventID
	}
	return actPrefix + x.Key
}

// firing is an automation due to act once its delay has passed (if its
// trigger still holds then).
type firing struct {
	// When it is due is its place on the agenda, not kept here.
	auto *regulations.Automation
	deal string    // of an event firing
	da   *dealAuto // of a deadline's, whose state it changes when it comes due
	task string
	mark time.Time // the state the trigger is about (stage entry, task due, …)
	// by: what triggered an event or schedule firing; nil for a deadline
	// (the deadlines are most of what waits, and say it with mark).
	by *firingCause
}

type firingCause struct {
	cause string // what triggered it, for the idempotency key
	value string // responsible.changed, field.changed: the value it changed to
}

// dealID returns the deal the firing is about ("" for none).
func (f *firing) dealID() string {
	if f.da != nil {
		return f.da.id
	}
	return f.deal
}

func (f *firing) cause() string {
	if f.by == nil {
		return ""
	}
	return f.by.cause
}

func (f *firing) value() string {
	if f.by == nil {
		return ""
	}
	return f.by.value
}

// Automator runs the regulations' automations (robots): on events, on
// deadlines (task overdue, idle, stage SLA, lifetime), on a schedule, each
// with its delay and the check that its trigger still holds. Like the
// Monitor it is told the events and the passing of time and never reads a
// clock.
//
// The automations are sorted by trigger once, so an event looks only at
// those it can trigger; the deadline triggers a deal has queued or fired
// are kept with the deal (dealAuto).
type Automator struct {
	regs  *regulations.Regulations
	autos []*regulations.Automation
	// The automations of each event trigger, of the schedule and of the
	// deadlines, in autos order: an event looks only at those it can set
	// off.
	created, entered, fieldChanged, respChanged, callMissed, won, lost, scheduled []*regulations.Automation
	timeDriven                                                                    []*regulations.Automation
	order                                                                         map[*regulations.Automation]int // position in the file
	collecting                                                                    bool                            // an event is being looked at
	collected                                                                     []considered                    // what it triggered so far

	ownTasks   map[*regulations.Automation]string // "rule:ID", the creator of its tasks
	roles      map[string][]*funnelwatch.User     // users with a role or sales role, by id
	supervisor map[string]string                  // of each user, as regs.User finds them
	queue      agenda[queued]
	free       []*firing // firings done with, to be used again
	expr       exprRunner
	// The deadlines' firings are not on the queue one by one: each deal
	// with some has its earliest there (see arm). dues counts
	// them all, armed those on the queue.
	dues, armed int
	deadlineF   firing               // the firing of a deadline that came due, made in place
	rr          map[string]int       // round-robin position by role
	callOut     map[string]time.Time // last outbound call by phone
	phones      phoneKeys
	openBy      map[string]int // open deals by responsible
	actions     []*Action
	forget      bool      // keep no history of actions (live: the outbox has it)
	cands       []string  // candidates' scratch
	key         []byte    // idempotency keys' scratch
	out         []*Action // what Fire returns
}

// dealAuto is what the automator keeps of one deal: its deadline
// triggers queued or already fired, sorted (see instance.compare).
type dealAuto struct {
	owner *Automator
	id    string
	insts []instance
	// What changed since the deadlines were last looked for (see
	// Evaluate): the aggregate and its revision then, whether everything
	// is to be looked at again (a new deal, a move, a deletion, a deal
	// deadline whose firing came due without acting), and the tasks that
	// are (set, rescheduled, or with such a firing).
	agg   *Aggregate
	rev   uint32
	all   bool
	tasks []string
}

// changed reports whether the deadlines of the task are to be looked at
// again.
func (da *dealAuto) changed(task string) bool {
	return da.all || slices.Contains(da.tasks, task)
}

// instance identifies a deadline trigger of a deal: the automation, the
// task and the state's mark (the due time, the stage entry…). 64 bytes:
// a deal waits on a few for as long as it is open.
type instance struct {
	task string
	mark int64
	idx  int32 // the automation's place in autos: it, and the order

	// Its state, in the deal's list (not part of the name).
	queued bool // a firing waits
	done   bool // it fired
	armed  bool // its firing is on the automator's queue
	// When its firing is due, and its place among the firings due then
	// (taken when it was queued, so it fires where it always did).
	at  time.Time
	seq uint64
}

// queued is a firing on the automator's queue: an event's or a
// schedule's (f), or the earliest deadline of a deal, named by its id
// (its state may be frozen meanwhile: see check).
type queued struct {
	f    *firing
	deal string
}

// firstQueued returns the index of the deal's deadline that fires first
// (-1: none waits).
func (da *dealAuto) firstQueued() int {
	i := -1
	for j := range da.insts {
		x := &da.insts[j]
		if !x.queued {
			continue
		}
		if i < 0 {
			i = j
			continue
		}
		y := &da.insts[i]
		if c := x.at.Compare(y.at); c < 0 || (c == 0 && x.seq < y.seq) {
			i = j
		}
	}
	return i
}

// arm puts the deal's first deadline on the queue, if it is not there.
func (a *Automator) arm(da *dealAuto) {
	if i := da.firstQueued(); i >= 0 && !da.insts[i].armed {
		x := &da.insts[i]
		x.armed = true
		a.armed++
		a.queue.addAt(x.at, x.seq, queued{deal: da.id})
	}
}

// compare orders a deal's deadline triggers for search: by the mark
// and the automation first, which tell most apart without reading the
// task's id (the ids of the robots' own tasks are long keys sharing a
// prefix); the order is only the list's, nothing fires by it.
func (x *instance) compare(y *instance) int {
	if x.mark != y.mark {
		return cmpInt(x.mark, y.mark)
	}
	if x.idx != y.idx {
		return cmpInt(int64(x.idx), int64(y.idx))
	}
	return strings.Compare(x.task, y.task)
}

func cmpInt[T int | int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// search finds where a deadline trigger is or would be.
func (da *dealAuto) search(k *instance) (int, bool) {
	lo, hi := 0, len(da.insts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if da.insts[mid].compare(k) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(da.insts) && da.insts[lo].compare(k) == 0
}

// state returns the state of a deadline trigger, added when new.
func (da *dealAuto) state(k *instance) *instance {
	i, found := da.search(k)
	if !found {
		da.insts = slices.Insert(da.insts, i, *k)
	}
	return &da.insts[i]
}

// unqueue records that the firing of a deadline trigger came due; one
// neither queued nor fired is as good as unknown, and is dropped.
func (da *dealAuto) unqueue(k *instance) {
	if i, found := da.search(k); found {
		if da.insts[i].queued = false; !da.insts[i].done {
			da.insts = slices.Delete(da.insts, i, i+1)
			// Its trigger may be due again at the next look.
			if k.task == "" || da.owner.autos[k.idx].When != regulations.TriggerTaskOverdue {
				da.all = true
			} else {
				da.tasks = append(da.tasks, k.task)
			}
		}
	}
}

// newInstance names a deadline trigger.
func (a *Automator) newInstance(au *regulations.Automation, task string, mark time.Time) instance {
	return instance{idx: int32(a.index(au)), task: task, mark: mark.UnixNano()}
}

// NewAutomator returns an automator of the regulations' automations,
// including each pipeline's lifetime action.
func NewAutomator(regs *regulations.Regulations) *Automator {
	a := &Automator{regs: regs, rr: map[string]int{}, callOut: map[string]time.Time{},
		ownTasks: map[*regulations.Automation]string{},
		openBy:   map[string]int{}, roles: map[string][]*funnelwatch.User{}}
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
	a.order = make(map[*regulations.Automation]int, len(a.autos))
	for i, au := range a.autos {
		a.order[au] = i
	}
	for _, au := range a.autos {
		switch au.When {
		case regulations.TriggerDealCreated:
			a.created = append(a.created, au)
		case regulations.TriggerStageEntered:
			a.entered = append(a.entered, au)
		case regulations.TriggerFieldChanged:
			a.fieldChanged = append(a.fieldChanged, au)
		case regulations.TriggerResponsibleChanged:
			a.respChanged = append(a.respChanged, au)
		case regulations.TriggerCallMissed:
			a.callMissed = append(a.callMissed, au)
		case regulations.TriggerDealWon:
			a.won = append(a.won, au)
		case regulations.TriggerDealLost:
			a.lost = append(a.lost, au)
		case regulations.TriggerSchedule:
			a.scheduled = append(a.scheduled, au)
		}
		if isTimeDriven(au.When) {
			a.timeDriven = append(a.timeDriven, au)
		}
		a.ownTasks[au] = "rule:" + au.ID
	}
	for i := range regs.Users {
		u := &regs.Users[i]
		for _, role := range []string{string(u.Role), u.SalesRole} {
			if !slices.Contains(a.roles[role], u) {
				a.roles[role] = append(a.roles[role], u)
			}
		}
	}
	a.supervisor = map[string]string{}
	for _, u := range regs.Users {
		if _, ok := a.supervisor[u.ID]; !ok {
			a.supervisor[u.ID] = u.Supervisor
		}
	}
	for _, us := range a.roles {
		slices.SortStableFunc(us, func(x, y *funnelwatch.User) int { return strings.Compare(x.ID, y.ID) })
	}
	return a
}

// Actions returns every action decided so far, in order (none when the
// automator forgets them, see Forget).
func (a *Automator) Actions() []*Action { return a.actions }

// record keeps an action decided outside the automations (a quality
// rule's notice) in the list of actions, in the order decided.
func (a *Automator) record(x *Action) {
	if !a.forget {
		a.actions = append(a.actions, x)
	}
}

// Forget makes the automator keep no list of its actions; Fire still
// returns them.
func (a *Automator) Forget() { a.forget, a.actions = true, nil }

// Pending returns how many firings wait for their time: every deadline
// of every deal, though the queue holds only each deal's first.
func (a *Automator) Pending() int { return a.queue.len() - a.armed + a.dues }

func (a *Automator) push(at time.Time, f *firing) { a.queue.add(at, queued{f: f}) }

// newFiring returns a firing to fill, one done with when there is one.
func (a *Automator) newFiring() *firing {
	if n := len(a.free); n > 0 {
		f := a.free[n-1]
		a.free = a.free[:n-1]
		return f
	}
	return new(firing)
}

// index returns the automation's place in autos.
func (a *Automator) index(au *regulations.Automation) int {
	return slices.Index(a.autos, au)
}

// openDeals returns how many open deals the user is responsible for.
func (a *Automator) openDeals(user string) int { return a.openBy[user] }

// inScope reports whether the automation applies to the deal where it is.
func inScope(au *regulations.Automation, d *funnelwatch.Deal) bool {
	if len(au.Pipelines) > 0 && !slices.Contains(au.Pipelines, d.Pipeline) {
		return false
	}
	if au.Stage != "" && au.When != regulations.TriggerStageEntered && !isStageRef(au.Stage, d.Pipeline, d.Stage) {
		return false
	}
	return true
}

// OnEvent looks for the automations an event triggers; prev is the deal
// before the event (nil for a new deal).
func (a *Automator) OnEvent(e *funnelwatch.Event, prev *funnelwatch.Deal, agg *Aggregate) {
	a.collecting = true
	defer a.queueCollected()
	if e.Type == funnelwatch.EventCall && e.Call != nil && e.Call.Direction == funnelwatch.DirectionOut {
		a.callOut[a.phones.key(e.Call.Phone)] = e.At
	}
	// Every change to a deal passes here with the deal before it: the
	// count of open deals by responsible (role assignment) follows.
	wasOpen := prev != nil && prev.Open()
	isOpen := agg != nil && agg.Deal != nil && agg.Deal.Open()
	if !wasOpen || !isOpen || prev.Responsible != agg.Deal.Responsible {
		if wasOpen {
			a.openBy[prev.Responsible]--
		}
		if isOpen {
			a.openBy[agg.Deal.Responsible]++
		}
	}
	if agg == nil || agg.Deal == nil {
		if e.Type == funnelwatch.EventCall && e.Call != nil && e.Call.Direction == funnelwatch.DirectionIn && !e.Call.Answered {
			a.trigger(a.callMissed, e, nil, "")
		}
		return
	}
	d := agg.Deal
	if len(a.timeDriven) > 0 {
		a.noteChange(e, agg)
	}
	entered := prev == nil || prev.Pipeline != d.Pipeline || prev.Stage != d.Stage
	switch e.Type {
	case funnelwatch.EventDealCreated:
		a.trigger(a.created, e, agg, "")
	case funnelwatch.EventDealUpdated:
		for _, au := range a.fieldChanged {
			if fieldChanged(au.Field, prev, d) {
				a.consider(au, e, agg, "", e.ID, e.At)
			}
		}
	case funnelwatch.EventDealResponsibleChanged:
		if prev != nil && prev.Responsible != d.Responsible {
			a.trigger(a.respChanged, e, agg, "")
			for _, au := range a.fieldChanged {
				if au.Field == "responsible" {
					a.consider(au, e, agg, "", e.ID, e.At)
				}
			}
		}
	case funnelwatch.EventCall:
		if e.Call.Direction == funnelwatch.DirectionIn && !e.Call.Answered {
			a.trigger(a.callMissed, e, agg, "")
		}
	}
	if entered && (e.Type == funnelwatch.EventDealCreated || e.Type == funnelwatch.EventDealStageChanged) {
		for _, au := range a.entered {
			if au.Stage == "" || isStageRef(au.Stage, d.Pipeline, d.Stage) {
				a.consider(au, e, agg, "", e.ID, d.StageEnteredAt)
			}
		}
		switch d.Status {
		case funnelwatch.DealWon:
			a.trigger(a.won, e, agg, "")
		case funnelwatch.DealLost:
			a.trigger(a.lost, e, agg, "")
		}
	}
}

// noteChange records what an event changed of the deal's deadlines. An
// aggregate that is not the one last seen, or that took other events
// meanwhile, has everything looked at again.
func (a *Automator) noteChange(e *funnelwatch.Event, agg *Aggregate) {
	da := a.dealFor(agg)
	if da.agg != agg || da.rev+1 != agg.rev {
		da.all = true
	}
	da.agg, da.rev = agg, agg.rev
	switch e.Type {
	case funnelwatch.EventDealCreated, funnelwatch.EventDealStageChanged, funnelwatch.EventDealDeleted:
		da.all = true // the deal's deadlines, and whether its tasks count
	case funnelwatch.EventTaskCreated:
		da.tasks = append(da.tasks, e.Task.ID)
	case funnelwatch.EventTaskRescheduled:
		da.tasks = append(da.tasks, e.TaskID)
	}
}

func fieldChanged(field string, prev, d *funnelwatch.Deal) bool {
	if prev == nil {
		return false
	}
	return fmt.Sprint(fieldValue(prev, field)) != fmt.Sprint(fieldValue(d, field))
}

// trigger considers every automation with the trigger for an event.
func (a *Automator) trigger(autos []*regulations.Automation, e *funnelwatch.Event, agg *Aggregate, task string) {
	for _, au := range autos {
		a.consider(au, e, agg, task, e.ID, e.At)
	}
}

// considered is an automation an event triggered, waiting for the
// others the same event triggers: they are queued in the file's order.
type considered struct {
	au          *regulations.Automation
	e           *funnelwatch.Event
	agg         *Aggregate
	task, cause string
	mark        time.Time
}

// consider takes an automation whose trigger happened; while an event is
// being looked at (OnEvent), it waits to be queued in the file's order.
func (a *Automator) consider(au *regulations.Automation, e *funnelwatch.Event, agg *Aggregate, task, cause string, mark time.Time) {
	if a.collecting {
		a.collected = append(a.collected, considered{au, e, agg, task, cause, mark})
		return
	}
	a.queueFiring(au, e, agg, task, cause, mark)
}

// queueCollected queues what an event triggered, in the order the
// automations are written in the file (a stage's on_enter where the stage
// is), so that when several act on one event they act in that order.
func (a *Automator) queueCollected() {
	a.collecting = false
	if len(a.collected) > 1 {
		slices.SortStableFunc(a.collected, func(x, y considered) int { return a.order[x.au] - a.order[y.au] })
	}
	for _, c := range a.collected {
		a.queueFiring(c.au, c.e, c.agg, c.task, c.cause, c.mark)
	}
	clear(a.collected)
	a.collected = a.collected[:0]
}

// queueFiring queues an automation whose trigger happened: it acts at
// once, or after its delay if the trigger still holds then.
func (a *Automator) queueFiring(au *regulations.Automation, e *funnelwatch.Event, agg *Aggregate, task, cause string, mark time.Time) {
	deal := ""
	if agg != nil && agg.Deal != nil {
		if !inScope(au, agg.Deal) {
			return
		}
		deal = agg.Deal.ID
	} else if au.When != regulations.TriggerCallMissed && au.When != regulations.TriggerSchedule {
		return
	}
	f := a.newFiring()
	*f = firing{auto: au, deal: deal, task: task, mark: mark, by: &firingCause{cause: cause}}
	if agg != nil && agg.Deal != nil {
		switch au.When {
		case regulations.TriggerResponsibleChanged:
			f.by.value = agg.Deal.Responsible
		case regulations.TriggerFieldChanged:
			f.by.value = fmt.Sprint(fieldValue(agg.Deal, au.Field))
		}
	}
	if e.Type == funnelwatch.EventCall && e.Call != nil {
		f.task = a.phones.key(e.Call.Phone) // the number whose callback is awaited
	}
	a.push(e.At.Add(au.After), f)
}

// Evaluate schedules the time-driven triggers of a deal as it is now:
// tasks falling overdue, idleness, the stage's SLA, the pipeline's
// lifetime. Each fires once per deadline.
func (a *Automator) Evaluate(now time.Time, agg *Aggregate) {
	if agg == nil || agg.Deal == nil || len(a.timeDriven) == 0 {
		return
	}
	d := agg.Deal
	// A deadline found before is queued or done: only what changed since
	// the last look (see noteChange) can have new ones, besides idleness,
	// which moves with every event. Those are looked at in the order all
	// would be, so they are queued in the same order.
	da := a.dealFor(agg)
	if da.agg != agg || da.rev != agg.rev {
		da.all = true
	}
	for _, au := range a.timeDriven {
		if !da.all && au.When != regulations.TriggerDealIdle && (au.When != regulations.TriggerTaskOverdue || len(da.tasks) == 0) {
			continue
		}
		if !inScope(au, d) {
			continue
		}
		switch au.When {
		case regulations.TriggerTaskOverdue:
			own := a.ownTasks[au]
			for _, ot := range agg.openTasks() {
				t := ot.t
				if !da.changed(t.ID) {
					continue
				}
				if t.Due != nil && taskCounts(d, t) && t.CreatedBy != own {
					a.deadline(da, au, now, later(*t.Due, t.CreatedAt), t.ID, *t.Due)
				}
			}
		case regulations.TriggerDealIdle:
			if d.Open() && au.Idle > 0 {
				a.deadline(da, au, now, d.LastEventAt.Add(au.Idle), "", d.LastEventAt)
			}
		case regulations.TriggerStageSLA:
			if st, ok := a.regs.ResolveStage(d.Pipeline, d.Stage); ok && d.Open() && st.SLA > 0 {
				a.deadline(da, au, now, d.StageEnteredAt.Add(st.SLA), "", d.StageEnteredAt)
			}
		case regulations.TriggerLifetime:
			if p, ok := a.regs.Pipeline(d.Pipeline); ok && d.Open() && p.Lifetime > 0 {
				a.deadline(da, au, now, d.PipelineEnteredAt.Add(p.Lifetime), "", d.PipelineEnteredAt)
			}
		}
	}
	da.agg, da.rev, da.all = agg, agg.rev, false
	da.tasks = da.tasks[:0]
	a.arm(da)
}

// dealFor returns what the automator keeps of the aggregate's deal,
// made the first time; the aggregate holds it (as it holds the monitor's,
// see Monitor.dealOf).
func (a *Automator) dealFor(agg *Aggregate) *dealAuto {
	if da := agg.auto; da != nil && da.owner == a && da.id == agg.Deal.ID {
		return da
	}
	da := &dealAuto{owner: a, id: agg.Deal.ID}
	agg.auto = da
	return da
}

// deadline queues the check of a time-driven trigger at when, once per
// instance.
func (a *Automator) deadline(da *dealAuto, au *regulations.Automation, now, when time.Time, task string, mark time.Time) {
	k := a.newInstance(au, task, mark)
	s := da.state(&k)
	if s.done || s.queued {
		return
	}
	// The trigger happens at the deadline; the automation acts after its
	// delay, if the trigger still holds then.
	// Evaluate puts the deal's first on the queue when it is done.
	s.queued, s.at, s.seq = true, later(when, now).Add(au.After), a.queue.reserve()
	a.dues++
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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
	for _, au := range a.scheduled {
		if au.Schedule != nil {
			next := au.Schedule.Next(from.In(a.regs.Location))
			a.push(next, &firing{auto: au, mark: next, by: &firingCause{cause: "cron"}})
		}
	}
}

// Fire acts on the firings due before now (or at now, when inclusive)
// whose trigger still holds, and returns the actions, in order. A
// scheduled automation is scheduled again for its next time. The slice
// returned is the automator's own, good until the next call.
func (a *Automator) Fire(now time.Time, inclusive bool, deal func(id string) *Aggregate, openDeals func(user string) int) []*Action {
	clear(a.out)
	out := a.out[:0]
	for {
		it, ok := a.queue.popItem(now, inclusive)
		if !ok {
			break
		}
		if id := it.v.deal; id != "" {
			agg := deal(id)
			if agg == nil || agg.auto == nil {
				panic("engine: a deadline of deal " + id + ", whose state no deal holds")
			}
			out = a.fire(it.at, a.deadlineFiring(agg.auto, it.seq), deal, openDeals, out)
			continue
		}
		f := it.v.f
		out = a.fire(it.at, f, deal, openDeals, out)
		if len(a.free) < 1024 {
			*f = firing{}
			a.free = append(a.free, f)
		}
	}
	if !a.forget {
		a.actions = append(a.actions, out...)
	}
	a.out = out
	return out
}

// deadlineFiring takes the deal's deadline that came due off its list of
// those waiting (the first: the queue gives the first of all), puts the
// deal's next one on the queue, and returns its firing, good until the
// next call.
func (a *Automator) deadlineFiring(da *dealAuto, seq uint64) *firing {
	a.armed--
	var x *instance
	for j := range da.insts {
		if y := &da.insts[j]; y.armed && y.seq == seq {
			x = y
			break
		}
	}
	x.armed, x.queued = false, false // fire drops it unless it fired before
	a.dues--
	a.deadlineF = firing{auto: a.autos[x.idx], da: da, task: x.task, mark: time.Unix(0, x.mark)}
	a.arm(da)
	return &a.deadlineF
}

// fire acts on one firing that came due, if its trigger still holds.
func (a *Automator) fire(at time.Time, f *firing, deal func(id string) *Aggregate, openDeals func(user string) int, out []*Action) []*Action {
	au := f.auto
	timed := isTimeDriven(au.When)
	var inst instance
	if timed {
		inst = a.newInstance(au, f.task, f.mark)
		f.da.unqueue(&inst)
	}
	var agg *Aggregate
	if da := f.da; da != nil && da.agg != nil && da.agg.auto == da {
		// The aggregate last evaluated, while it holds the deal's state
		// (a deal folded again gives its state to the new aggregate, see
		// Live.refold): what deal would find, without the map.
		agg = da.agg
	} else if id := f.dealID(); id != "" {
		agg = deal(id)
	}
	if au.When == regulations.TriggerSchedule {
		next := au.Schedule.Next(at.In(a.regs.Location))
		a.push(next, &firing{auto: au, mark: next, by: &firingCause{cause: "cron"}})
	}
	if !a.holds(at, f, agg) || !a.expr.condition(au, agg) {
		return out
	}
	if timed {
		f.da.state(&inst).done = true
	}
	// The idempotency key: AUTOMATION:CAUSE:INDEX, made behind the
	// prefix of the id of the event the action makes ("act:" + key), so
	// that one string is both.
	key := append(a.key[:0], actPrefix...)
	key = append(key, au.ID...)
	key = append(key, ':')
	switch {
	case au.When == regulations.TriggerSchedule:
		key = append(key, "cron@"...)
		key = appendStamp(key, f.mark)
	case timed:
		subject := f.dealID()
		if f.task != "" {
			subject = f.task
		}
		key = append(key, subject...)
		key = append(key, '@')
		key = appendStamp(key, f.mark)
	default:
		key = append(key, f.cause()...)
	}
	key = append(key, ':')
	a.key = key
	for i, act := range au.Do {
		id := string(strconv.AppendInt(key, int64(i), 10))
		if x := a.act(at, f, agg, act, id[len(actPrefix):], openDeals); x != nil {
			x.eventID = id
			out = append(out, x)
		}
	}
	return out
}

// appendStamp writes a moment as the idempotency keys name it:
// 20060102T150405Z, in UTC.
func appendStamp(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "20060102T150405Z")
}

func isTimeDriven(t regulations.Trigger) bool {
	switch t {
	case regulations.TriggerTaskOverdue, regulations.TriggerDealIdle, regulations.TriggerStageSLA, regulations.TriggerLifetime:
		return true
	}
	return false
}

// holds reports whether the trigger of a firing still holds at its time.
func (a *Automator) holds(at time.Time, f *firing, agg *Aggregate) bool {
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
		// Among the open tasks, by their due times (a search by id
		// compared ids at each step).
		for _, ot := range agg.openTasks() {
			if t := ot.t; ot.due().Equal(f.mark) && t.ID == f.task {
				return t.Due != nil && taskCounts(d, t) && !at.Before(*t.Due)
			}
		}
		return false
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
		return d.Responsible == f.value()
	case regulations.TriggerFieldChanged:
		return fmt.Sprint(fieldValue(d, au.Field)) == f.value()
	}
	return true
}

// act turns one action of a firing into an Action.
func (a *Automator) act(at time.Time, f *firing, agg *Aggregate, spec regulations.Action, key string, openDeals func(string) int) *Action {
	var d *funnelwatch.Deal
	if agg != nil {
		d = agg.Deal
	}
	var x *Action
	if spec.Kind == regulations.ActionNotify && len(spec.Notify) <= 2 {
		// The recipients (the responsible, a supervisor) in the same
		// allocation as the action: one, not two.
		n := &notifyAction{}
		x, n.Action.Recipients = &n.Action, n.to[:0:len(spec.Notify)]
	} else {
		x = &Action{}
	}
	*x = Action{Type: spec.Kind, At: at, Rule: f.auto.ID, Trigger: f.auto.When, Key: key, Recipients: x.Recipients}
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
		x.Assignee = a.resolve(t.Assignee, d, at, openDeals)
		if x.Assignee == "" {
			x.Assignee = d.Responsible
		}
		due := at.Add(t.Due)
		if t.WorkingHours {
			var sched funnelwatch.Schedule
			if u, ok := a.regs.User(x.Assignee); ok {
				sched = u.Schedule
			}
			due = workingDue(at, t.Due, a.regs.WorkingHours, sched, a.regs.Location)
		}
		x.due = due
		x.Due = &x.due
	case regulations.ActionMove:
		if d == nil {
			return nil
		}
		x.To = spec.MoveTo
	case regulations.ActionAssign:
		if d == nil {
			return nil
		}
		x.To = a.resolve(spec.Assign, d, at, openDeals)
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
			if who := a.resolve(r, d, at, openDeals); who != "" && !slices.Contains(x.Recipients, who) {
				if x.Recipients == nil {
					x.Recipients = make([]string, 0, len(spec.Notify)) // grown once, not per recipient
				}
				x.Recipients = append(x.Recipients, who)
			}
		}
		if len(x.Recipients) == 0 {
			x.Recipients = nil // as when made on the first recipient
		}
		if f.task != "" && f.auto.When == regulations.TriggerTaskOverdue {
			x.TaskID = f.task
		}
		x.Channel = spec.NotifyChannel
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
			return a.supervisor[d.Responsible]
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
// on shift at the moment (all of them when nobody is). The list is the
// automator's own, good until the next call.
func (a *Automator) candidates(role string, at time.Time) []string {
	users := a.roles[role]
	local := at.In(a.regs.Location)
	a.cands = a.cands[:0]
	for _, u := range users {
		if u.Schedule.OnShift(local) {
			a.cands = append(a.cands, u.ID)
		}
	}
	if len(a.cands) == 0 {
		for _, u := range users {
			a.cands = append(a.cands, u.ID)
		}
	}
	return a.cands
}
