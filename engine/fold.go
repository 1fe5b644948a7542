// Package engine applies the regulations to the funnel: it folds events
// into the state of deals and tasks, checks incoming events against the
// funnel, and (in later stages) evaluates automations and quality rules.
package engine

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/phone"
)

// Aggregate is one deal with its tasks: the unit an event changes. Calls,
// notes and contacts are facts stored as they come; they are not folded.
type Aggregate struct {
	Deal  *funnelwatch.Deal // nil until deal.created is folded
	Tasks Tasks

	dirtyDeal bool // the deal changed since it was loaded or saved
	// movedDeal: it changed in more than its activity (stage, pipeline,
	// responsible, status, deletion, creation) and needs a full save.
	movedDeal bool
	// untracked: nothing is written from this aggregate (the engine's
	// own copy of the funnel), so no dirty marks are kept.
	untracked bool
	openOK    bool // see open (the flags side by side: 16 bytes a deal)
	// rev counts the events applied: the monitor and the automator know
	// from it that a deal has not changed since they last looked. Beside
	// the flags, in the word they leave: the aggregate is 96 bytes, not
	// 112, in the Ingestor's cache and in the engine (a deal takes four
	// billion events to wrap it around).
	rev uint32

	dirtyTasks map[string]bool // made on the first change

	// open lists the open tasks in id order, kept by Apply once built
	// (openOK); the rules ask for it at every evaluation. Code that sets
	// Tasks directly does so on a fresh aggregate, whose list is not built
	// yet.
	open []openTask
	// What the monitor and the automator keep of the deal, found without
	// a lookup (each checks that it is its own).
	mon  *dealMon
	auto *dealAuto
	// visits are the changes to the deal's stage visits not yet written
	// (nil when none): a pointer, so a deal with none costs one word.
	visits *visitLog
}

// visitLog is what changed in a deal's stage visits since they were last
// written: the stays begun or ended, in order. reset says the deal was
// folded again from its log and its stored visits are to be replaced by
// these (which are then its whole history).
type visitLog struct {
	reset bool
	list  []funnelwatch.StageVisit
}

// enterStage records that the deal entered its current stage at.
func (a *Aggregate) enterStage(at time.Time) {
	if a.untracked {
		return
	}
	d := a.Deal
	if a.visits == nil {
		a.visits = &visitLog{}
	}
	a.visits.list = append(a.visits.list, funnelwatch.StageVisit{DealID: d.ID, Pipeline: d.Pipeline, Stage: d.Stage,
		Entered: at, Responsible: d.Responsible})
}

// leaveStage records that the deal left its current stage at, for
// pipeline/stage ("" when it left the funnel). Called before the deal
// moves: its stage and StageEnteredAt still name the stay that ends.
func (a *Aggregate) leaveStage(at time.Time, pipeline, stage string) {
	if a.untracked {
		return
	}
	d := a.Deal
	if a.visits == nil {
		a.visits = &visitLog{}
	}
	left := at
	if n := len(a.visits.list); n > 0 {
		if v := &a.visits.list[n-1]; v.Left == nil && v.Pipeline == d.Pipeline && v.Stage == d.Stage && v.Entered.Equal(d.StageEnteredAt) {
			v.Left, v.NextPipeline, v.NextStage = &left, pipeline, stage
			return
		}
	}
	// The stay began before the last write: the store closes it by its
	// key (the responsible is used only if the store lacks it).
	a.visits.list = append(a.visits.list, funnelwatch.StageVisit{DealID: d.ID, Pipeline: d.Pipeline, Stage: d.Stage,
		Entered: d.StageEnteredAt, Left: &left, NextPipeline: pipeline, NextStage: stage, Responsible: d.Responsible})
}

// stageVisits returns the visit changes to write and whether they replace
// the deal's stored visits.
func (a *Aggregate) stageVisits() (reset bool, visits []funnelwatch.StageVisit) {
	if a.visits == nil {
		return false, nil
	}
	return a.visits.reset, a.visits.list
}

// untrack makes the aggregate keep no dirty marks and no visit changes
// from now on, as the engine's own copies do.
func (a *Aggregate) untrack() {
	a.clearDirty()
	a.untracked = true
}

// NewAggregate returns an empty aggregate, as before the deal's creation.
func NewAggregate() *Aggregate {
	return &Aggregate{}
}

// newUntracked returns an empty aggregate that keeps no dirty marks, for
// the engine's replay.
func newUntracked() *Aggregate {
	return &Aggregate{untracked: true}
}

// Tasks are a deal's tasks in id order. A deal has a few: a sorted slice
// finds one as fast as a map would, in a fraction of the memory (a map
// of one task took some 200 bytes more, for each deal the Ingestor and
// the engine hold).
type Tasks []*funnelwatch.Task

// find returns where the task is or would be: slices.BinarySearchFunc
// by hand, so that the comparison is inlined rather than a call through
// a closure at every step (the robots' and the monitor's checks look
// tasks up by id several times per event).
func (ts Tasks) find(id string) (int, bool) {
	if id == "" {
		// First if anywhere: the monitor asks for it at every finding
		// of a deal's condition, and the search read a task at each step.
		return 0, len(ts) > 0 && ts[0].ID == ""
	}
	lo, hi := 0, len(ts)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if ts[h].ID < id {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo, lo < len(ts) && ts[lo].ID == id
}

// Get returns the task with the id, nil when the deal has none.
func (ts Tasks) Get(id string) *funnelwatch.Task {
	if i, ok := ts.find(id); ok {
		return ts[i]
	}
	return nil
}

// put adds the task, or replaces the one with its id.
func (ts *Tasks) put(t *funnelwatch.Task) {
	i, ok := ts.find(t.ID)
	if ok {
		(*ts)[i] = t
		return
	}
	*ts = slices.Insert(*ts, i, t)
}

// markTask marks a task for writing.
func (a *Aggregate) markTask(id string) {
	if a.untracked {
		return
	}
	if a.dirtyTasks == nil {
		a.dirtyTasks = map[string]bool{}
	}
	a.dirtyTasks[id] = true
}

// openTask is an open task. It was the task and a copy of its due time,
// read without touching the task itself: 32 bytes a task where the
// pointer is 8, for each deal the engine and the Ingestor hold, and the
// replay no faster for the copy (docs/performance.md, session 5).
type openTask struct {
	t *funnelwatch.Task
}

// due returns the task's due time (zero: none).
func (ot openTask) due() time.Time { return dueOf(ot.t) }

// openTasks returns the open tasks in id order. The slice is the
// aggregate's own: callers must not keep or change it.
func (a *Aggregate) openTasks() []openTask {
	if !a.openOK {
		a.open = a.open[:0]
		for _, t := range a.Tasks {
			if t.Open() {
				a.open = append(a.open, openTask{t})
			}
		}
		a.openOK = true // in id order, as the tasks are
	}
	return a.open
}

func dueOf(t *funnelwatch.Task) time.Time {
	if t.Due == nil {
		return time.Time{}
	}
	return *t.Due
}

// findOpen returns where the task is or would be in the open list.
func (a *Aggregate) findOpen(id string) (int, bool) {
	return slices.BinarySearchFunc(a.open, id, func(x openTask, id string) int { return strings.Compare(x.t.ID, id) })
}

// setOpen keeps the open-task list in step with a task that was created,
// replaced or closed.
func (a *Aggregate) setOpen(t *funnelwatch.Task) {
	if !a.openOK {
		return
	}
	i, found := a.findOpen(t.ID)
	switch {
	case t.Open() && found:
		a.open[i] = openTask{t}
	case t.Open():
		a.open = slices.Insert(a.open, i, openTask{t})
	case found:
		a.open = slices.Delete(a.open, i, i+1)
	}
}

// clone returns a deep copy, so a batch can change it and be rolled back;
// what is waiting to be written stays marked.
func (a *Aggregate) clone() *Aggregate {
	c := NewAggregate()
	if a.Deal != nil {
		d := *a.Deal
		d.Fields = maps.Clone(a.Deal.Fields)
		c.Deal = &d
	}
	if len(a.Tasks) > 0 {
		c.Tasks = make(Tasks, len(a.Tasks))
		for i, t := range a.Tasks {
			tc := *t
			c.Tasks[i] = &tc
		}
	}
	c.dirtyDeal, c.movedDeal, c.untracked = a.dirtyDeal, a.movedDeal, a.untracked
	if len(a.dirtyTasks) > 0 {
		c.dirtyTasks = maps.Clone(a.dirtyTasks)
	}
	if a.visits != nil {
		// Copied with their end times: leaveStage changes the last one
		// in place.
		v := &visitLog{reset: a.visits.reset, list: slices.Clone(a.visits.list)}
		c.visits = v
	}
	return c
}

// dirty reports whether the aggregate has changes not yet written.
func (a *Aggregate) dirty() bool { return a.dirtyDeal || len(a.dirtyTasks) > 0 || a.visits != nil }

// markAllDirty marks the deal and every task for a full write, as after a
// re-fold: the stage visits the fold recorded replace the stored ones.
func (a *Aggregate) markAllDirty() {
	a.dirtyDeal, a.movedDeal = a.Deal != nil, a.Deal != nil
	if a.Deal != nil && !a.untracked {
		if a.visits == nil {
			a.visits = &visitLog{}
		}
		a.visits.reset = true
	}
	for _, t := range a.Tasks {
		a.markTask(t.ID)
	}
}

// clearDirty marks everything written.
func (a *Aggregate) clearDirty() {
	a.dirtyDeal, a.movedDeal = false, false
	a.dirtyTasks = nil // most cached aggregates stay clean: no empty map each
	a.visits = nil
}

// Fold returns the state that the events produce, applied in the order
// given (callers pass them in (at, seq) order).
func Fold(f *funnelwatch.Funnel, events []funnelwatch.Event) *Aggregate {
	a := NewAggregate()
	for i := range events {
		a.Apply(f, &events[i])
	}
	return a
}

// Apply folds one event into the aggregate. The event has been checked;
// Apply tolerates events it cannot place (it leaves the state as it is) so
// that re-folding a stored log never fails.
func (a *Aggregate) Apply(f *funnelwatch.Funnel, e *funnelwatch.Event) {
	a.rev++
	if e.Type == funnelwatch.EventDealCreated {
		a.create(f, e)
		return
	}
	d := a.Deal
	if d == nil {
		return
	}
	if e.At.After(d.LastEventAt) {
		d.LastEventAt = e.At
	}
	// Task, call and note events leave the deal's row alone (only its
	// LastEventAt moves, which loading recomputes from the log): most
	// events are of these kinds, and rewriting the deal for each would
	// double the cost of ingest.
	if !a.untracked && strings.HasPrefix(string(e.Type), "deal.") {
		a.dirtyDeal = true
	}
	switch e.Type {
	case funnelwatch.EventDealStageChanged:
		a.move(f, e)
	case funnelwatch.EventDealUpdated:
		if e.Amount != nil {
			d.Amount = *e.Amount
		}
		if len(e.Fields) > 0 {
			d.Fields = mergeFields(d.Fields, e.Fields)
		}
		d.UpdatedAt = e.At
	case funnelwatch.EventDealResponsibleChanged:
		d.Responsible = e.To
		d.UpdatedAt = e.At
		a.movedDeal = true
	case funnelwatch.EventDealDeleted:
		a.movedDeal = true
		if d.DeletedAt == nil {
			a.leaveStage(e.At, "", "")
		}
		at := e.At
		d.DeletedAt = &at
		d.UpdatedAt = e.At
	case funnelwatch.EventTaskCreated:
		t := e.Task
		assignee := t.Assignee
		if assignee == "" {
			assignee = d.Responsible
		}
		nt := &funnelwatch.Task{
			ID: t.ID, DealID: d.ID, Assignee: assignee, Kind: t.Kind, Text: t.Text,
			Due: t.Due, CreatedAt: e.At, CreatedBy: e.Actor,
		}
		a.Tasks.put(nt)
		a.setOpen(nt)
		a.markTask(t.ID)
	case funnelwatch.EventTaskCompleted, funnelwatch.EventTaskDeleted:
		t := a.Tasks.Get(e.TaskID)
		if t == nil || t.CompletedAt != nil {
			return
		}
		at := e.At
		t.CompletedAt = &at
		t.Result = e.Result
		t.Deleted = e.Type == funnelwatch.EventTaskDeleted
		a.setOpen(t)
		a.markTask(t.ID)
	case funnelwatch.EventTaskRescheduled:
		t := a.Tasks.Get(e.TaskID)
		if t == nil || t.CompletedAt != nil {
			return
		}
		due := *e.Due
		t.Due = &due
		t.Reschedules++
		a.markTask(t.ID)
	}
}

func (a *Aggregate) create(f *funnelwatch.Funnel, e *funnelwatch.Event) {
	p := e.Deal
	stage := p.Stage
	if stage == "" {
		if pl, ok := f.Pipeline(p.Pipeline); ok {
			if s, ok := pl.FirstOpen(); ok {
				stage = s.ID
			}
		}
	}
	d := &funnelwatch.Deal{
		ID: p.ID, Pipeline: p.Pipeline, Stage: stage, Status: funnelwatch.DealOpen,
		Name: p.Name, Responsible: p.Responsible, Amount: p.Amount, Source: p.Source,
		Fields:    maps.Clone(p.Fields),
		CreatedAt: e.At, UpdatedAt: e.At, StageEnteredAt: e.At, PipelineEnteredAt: e.At, LastEventAt: e.At,
	}
	if id, name := contactKey(p.Contact); id != "" {
		d.ContactID = id
		if d.Name == "" {
			d.Name = name
		}
	}
	if s, ok := f.ResolveStage(d.Pipeline, d.Stage); ok && s.Type.Closed() {
		d.Status = dealStatus(s.Type)
		at := e.At
		d.ClosedAt = &at
	}
	a.Deal = d
	a.dirtyDeal, a.movedDeal = true, true
	a.enterStage(e.At)
}

func (a *Aggregate) move(f *funnelwatch.Funnel, e *funnelwatch.Event) {
	d := a.Deal
	s, ok := f.ResolveStage(d.Pipeline, e.ToStage)
	if !ok || (s.Pipeline == d.Pipeline && s.ID == d.Stage) {
		return
	}
	a.movedDeal = true
	if d.DeletedAt == nil {
		a.leaveStage(e.At, s.Pipeline, s.ID)
	}
	if s.Pipeline != d.Pipeline {
		d.PipelineEnteredAt = e.At
	}
	d.Pipeline, d.Stage = s.Pipeline, s.ID
	d.StageEnteredAt = e.At
	d.UpdatedAt = e.At
	d.Status = dealStatus(s.Type)
	switch s.Type {
	case funnelwatch.StageOpen:
		// Reopened: the deal works again; its lifetime goes on counting
		// from its last entry into the pipeline (DESIGN §5).
		d.ClosedAt = nil
		d.LossReason = ""
	case funnelwatch.StageWon:
		at := e.At
		d.ClosedAt = &at
		d.LossReason = ""
	case funnelwatch.StageLost:
		at := e.At
		d.ClosedAt = &at
		d.LossReason = strings.TrimSpace(e.LossReason)
	}
	if d.DeletedAt == nil {
		a.enterStage(e.At)
	}
}

func dealStatus(t funnelwatch.StageType) funnelwatch.DealStatus {
	switch t {
	case funnelwatch.StageWon:
		return funnelwatch.DealWon
	case funnelwatch.StageLost:
		return funnelwatch.DealLost
	}
	return funnelwatch.DealOpen
}

// mergeFields applies an update to custom fields: a key set to null is
// removed, any other value replaces the old one.
func mergeFields(old, upd map[string]any) map[string]any {
	out := maps.Clone(old)
	if out == nil {
		out = map[string]any{}
	}
	for k, v := range upd {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// contactKey returns the id and name of the contact ContactOf would
// return ("" when none), without making it: every deal's creation asks.
func contactKey(ci *funnelwatch.ContactInfo) (id, name string) {
	if ci == nil {
		return "", ""
	}
	if p := phone.Key(ci.Phone); p != "" {
		return "tel:" + p, strings.TrimSpace(ci.Name)
	}
	if em := strings.ToLower(strings.TrimSpace(ci.Email)); em != "" {
		return "mail:" + em, strings.TrimSpace(ci.Name)
	}
	return "", ""
}

// ContactOf returns the contact a new deal names, keyed by its phone in
// E.164 (so the same client is one contact however the number was
// written), else by its e-mail; nil when it has neither.
func ContactOf(ci *funnelwatch.ContactInfo) *funnelwatch.Contact {
	if ci == nil {
		return nil
	}
	c := &funnelwatch.Contact{Name: strings.TrimSpace(ci.Name)}
	if p := phone.Key(ci.Phone); p != "" {
		c.Phones = []string{p}
	}
	if em := strings.ToLower(strings.TrimSpace(ci.Email)); em != "" {
		c.Emails = []string{em}
	}
	switch {
	case len(c.Phones) > 0:
		c.ID = "tel:" + c.Phones[0]
	case len(c.Emails) > 0:
		c.ID = "mail:" + c.Emails[0]
	default:
		return nil
	}
	return c
}
