package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/phone"
)

// Outcome is what became of one event of a batch.
type Outcome int

// Outcomes.
const (
	Accepted Outcome = iota
	Duplicate
	Rejected
)

// Result reports the fate of each event of a batch, by position.
type Result struct {
	Outcomes []Outcome
	Reasons  []string // the rejection reason, by position ("" unless rejected)
}

// Count returns how many events had the outcome.
func (r *Result) Count(o Outcome) int {
	n := 0
	for _, x := range r.Outcomes {
		if x == o {
			n++
		}
	}
	return n
}

// Ingestor checks events against the funnel and appends them, with the
// state they fold into, to a workspace's store. It keeps the aggregates it
// has loaded in memory, so it must be the only writer of the workspace's
// log (one process per workspace).
type Ingestor struct {
	Store     funnelwatch.Store
	Workspace string
	Funnel    *funnelwatch.Funnel
	// Now is the clock stamping received_at (time.Now when nil).
	Now func() time.Time
	// MaxCached bounds the aggregates kept in memory between batches
	// (default 1,000,000).
	MaxCached int

	mu       sync.Mutex // one batch at a time: the store has one writer anyway
	cache    map[string]*Aggregate
	taskDeal map[string]string // task id → deal id, for the cached deals
}

// Ingest stores a batch in one transaction. Events are taken in event-time
// order (ties in the order given); each is checked against the funnel and
// the state left by those before it. A repeated id is a duplicate; an
// invalid event is rejected with a reason and the rest of the batch is
// kept. The error is for failures of the store only.
func (in *Ingestor) Ingest(ctx context.Context, events []funnelwatch.Event) (*Result, error) {
	res := &Result{Outcomes: make([]Outcome, len(events)), Reasons: make([]string, len(events))}
	if len(events) == 0 {
		return res, nil
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return events[a].At.Compare(events[b].At) })

	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cache == nil {
		in.cache, in.taskDeal = map[string]*Aggregate{}, map[string]string{}
	}
	var b *batch
	err := in.Store.Update(ctx, in.Workspace, func(tx funnelwatch.Tx) error {
		// Reset per attempt so a retried transaction starts clean.
		clear(res.Reasons)
		for i := range res.Outcomes {
			res.Outcomes[i] = Accepted
		}
		ids := make([]string, len(events))
		for i := range events {
			ids[i] = events[i].ID
		}
		existing, err := tx.ExistingEventIDs(ctx, ids)
		if err != nil {
			return err
		}
		b = &batch{ctx: ctx, tx: tx, f: in.Funnel, in: in, aggs: map[string]*Aggregate{}, taskDeal: map[string]string{}, noTask: map[string]bool{}, refold: map[string]bool{}}
		if err := b.prefetch(events); err != nil {
			return err
		}
		received := now().UTC()
		for _, i := range order {
			e := events[i] // a copy: the caller's slice is left as given
			if existing[e.ID] {
				res.Outcomes[i] = Duplicate
				continue
			}
			existing[e.ID] = true
			if err := b.check(&e); err != nil {
				if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID {
					return err
				}
				res.Outcomes[i] = Rejected
				res.Reasons[i] = funnelwatch.ErrorMessage(err)
				existing[e.ID] = false // a later, valid event may still use the id
				continue
			}
			e.ReceivedAt = received
			if err := b.apply(&e); err != nil {
				return err
			}
		}
		return b.flush()
	})
	if err != nil {
		return nil, err
	}
	in.remember(b)
	return res, nil
}

// remember keeps the committed batch's aggregates for the next batches.
func (in *Ingestor) remember(b *batch) {
	limit := in.MaxCached
	if limit <= 0 {
		limit = 1_000_000
	}
	for id, a := range b.aggs {
		if a == nil || a.Deal == nil {
			continue
		}
		a.dirtyDeal, a.movedDeal = false, false
		clear(a.dirtyTasks)
		in.cache[id] = a
		for tid := range a.Tasks {
			in.taskDeal[tid] = id
		}
	}
	if len(in.cache) <= limit {
		return
	}
	// Closed deals are touched least; drop them first, then everything.
	for id, a := range in.cache {
		if !a.Deal.Open() {
			in.forget(id)
		}
	}
	if len(in.cache) > limit {
		clear(in.cache)
		clear(in.taskDeal)
	}
}

func (in *Ingestor) forget(id string) {
	if a := in.cache[id]; a != nil {
		for tid := range a.Tasks {
			delete(in.taskDeal, tid)
		}
	}
	delete(in.cache, id)
}

// batch is the working state of one ingest transaction.
type batch struct {
	ctx      context.Context
	tx       funnelwatch.Tx
	f        *funnelwatch.Funnel
	in       *Ingestor
	aggs     map[string]*Aggregate // by deal id; nil entry: no such deal
	taskDeal map[string]string     // task id → deal id
	noTask   map[string]bool       // task ids known not to exist before this batch
	refold   map[string]bool       // deals that got an event older than their latest
	inserted []*funnelwatch.Event  // accepted events, in the order folded
	contacts []*funnelwatch.Contact
	calls    []*funnelwatch.Call
	notes    []*funnelwatch.Note
}

// prefetch loads, in a few queries, every deal and task the batch refers
// to that the cache does not hold.
func (b *batch) prefetch(events []funnelwatch.Event) error {
	dealIDs := map[string]bool{}
	var taskIDs []string
	for i := range events {
		e := &events[i]
		if id := e.DealRef(); id != "" {
			dealIDs[id] = true
		}
		tid := e.TaskID
		if e.Task != nil {
			tid = e.Task.ID
		}
		if tid != "" {
			if id, ok := b.in.taskDeal[tid]; ok {
				dealIDs[id] = true
			} else {
				taskIDs = append(taskIDs, tid)
			}
		}
	}
	if len(taskIDs) > 0 {
		tasks, err := b.tx.Tasks(b.ctx, funnelwatch.TaskFilter{IDs: taskIDs})
		if err != nil {
			return err
		}
		for _, tid := range taskIDs {
			b.noTask[tid] = true
		}
		for _, t := range tasks {
			dealIDs[t.DealID] = true
			delete(b.noTask, t.ID)
		}
	}
	var load []string
	for id := range dealIDs {
		if a, ok := b.in.cache[id]; ok {
			b.aggs[id] = a.clone()
			continue
		}
		load = append(load, id)
	}
	if len(load) == 0 {
		return nil
	}
	slices.Sort(load)
	deals, err := b.tx.Deals(b.ctx, funnelwatch.DealFilter{IDs: load, IncludeDeleted: true})
	if err != nil {
		return err
	}
	tasks, err := b.tx.Tasks(b.ctx, funnelwatch.TaskFilter{DealIDs: load})
	if err != nil {
		return err
	}
	for _, id := range load {
		b.aggs[id] = nil
	}
	last, err := b.tx.LastEventTimes(b.ctx, load)
	if err != nil {
		return err
	}
	for _, d := range deals {
		if t := last[d.ID]; t.After(d.LastEventAt) {
			d.LastEventAt = t
		}
		a := NewAggregate()
		a.Deal = d
		b.aggs[d.ID] = a
	}
	for _, t := range tasks {
		if a := b.aggs[t.DealID]; a != nil {
			a.Tasks[t.ID] = t
			b.taskDeal[t.ID] = t.DealID
		}
	}
	return nil
}

// aggregate returns the deal's aggregate, loading it once per batch; nil
// when the deal does not exist.
func (b *batch) aggregate(id string) (*Aggregate, error) {
	if a, ok := b.aggs[id]; ok {
		return a, nil
	}
	if a, ok := b.in.cache[id]; ok {
		b.aggs[id] = a.clone()
		return b.aggs[id], nil
	}
	d, err := b.tx.Deal(b.ctx, id)
	if funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND {
		b.aggs[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tasks, err := b.tx.Tasks(b.ctx, funnelwatch.TaskFilter{DealID: id})
	if err != nil {
		return nil, err
	}
	last, err := b.tx.LastEventTimes(b.ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if t := last[id]; t.After(d.LastEventAt) {
		d.LastEventAt = t
	}
	a := NewAggregate()
	a.Deal = d
	for _, t := range tasks {
		a.Tasks[t.ID] = t
		b.taskDeal[t.ID] = id
	}
	b.aggs[id] = a
	return a, nil
}

// taskAggregate returns the aggregate holding the task, nil when no deal
// has it.
func (b *batch) taskAggregate(taskID string) (*Aggregate, error) {
	if id, ok := b.taskDeal[taskID]; ok {
		return b.aggregate(id)
	}
	if id, ok := b.in.taskDeal[taskID]; ok {
		return b.aggregate(id)
	}
	if b.noTask[taskID] {
		return nil, nil
	}
	t, err := b.tx.Task(b.ctx, taskID)
	if funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b.taskDeal[taskID] = t.DealID
	return b.aggregate(t.DealID)
}

func invalid(format string, args ...any) error {
	return funnelwatch.Errorf(funnelwatch.EINVALID, format, args...)
}

// check validates the event's references against the funnel and the
// current state, and resolves the deal it is about into e.DealID.
func (b *batch) check(e *funnelwatch.Event) error {
	user := func(key, id string) error {
		if id == "" {
			return nil
		}
		if _, ok := b.f.User(id); !ok {
			return invalid("unknown user %q in %s", id, key)
		}
		return nil
	}
	// liveDeal loads the deal an event refers to and checks that it is
	// in the funnel and that the event does not predate it.
	liveDeal := func(key, id string) (*Aggregate, error) {
		a, err := b.aggregate(id)
		if err != nil {
			return nil, err
		}
		if a == nil || a.Deal == nil {
			return nil, invalid("unknown deal %q in %s", id, key)
		}
		if a.Deal.DeletedAt != nil {
			return nil, invalid("deal %q was deleted", id)
		}
		if e.At.Before(a.Deal.CreatedAt) {
			return nil, invalid("bad time: at %s is before deal %q was created (%s)",
				e.At.Format(time.RFC3339), id, a.Deal.CreatedAt.Format(time.RFC3339))
		}
		e.DealID = id
		return a, nil
	}
	liveTask := func() (*funnelwatch.Task, error) {
		a, err := b.taskAggregate(e.TaskID)
		if err != nil {
			return nil, err
		}
		if a == nil || a.Tasks[e.TaskID] == nil {
			return nil, invalid("unknown task %q in task_id", e.TaskID)
		}
		if _, err := liveDeal("task "+e.TaskID, a.Deal.ID); err != nil {
			return nil, err
		}
		t := a.Tasks[e.TaskID]
		if t.CompletedAt != nil {
			return nil, invalid("task %q is already closed", e.TaskID)
		}
		if e.At.Before(t.CreatedAt) {
			return nil, invalid("bad time: at is before task %q was created", e.TaskID)
		}
		return t, nil
	}

	switch e.Type {
	case funnelwatch.EventDealCreated:
		dp := *e.Deal // normalised below; the caller's payload stays as given
		p := &dp
		e.Deal = p
		pl, ok := b.f.Pipeline(p.Pipeline)
		if !ok {
			return invalid("unknown pipeline %q in deal.pipeline", p.Pipeline)
		}
		if p.Stage != "" {
			if _, ok := b.f.ResolveStage(pl.ID, p.Stage); !ok {
				return invalid("unknown stage %q in deal.stage (pipeline %q)", p.Stage, pl.ID)
			}
			// A qualified ref must stay in the deal's own pipeline.
			if pid, sid, ok := strings.Cut(p.Stage, "/"); ok {
				if pid != pl.ID {
					return invalid("deal.stage %q is not in pipeline %q", p.Stage, pl.ID)
				}
				p.Stage = sid
			}
		} else if _, ok := pl.FirstOpen(); !ok {
			return invalid("pipeline %q has no open stage for a new deal", pl.ID)
		}
		if err := user("deal.responsible", p.Responsible); err != nil {
			return err
		}
		a, err := b.aggregate(p.ID)
		if err != nil {
			return err
		}
		if a != nil && a.Deal != nil {
			return invalid("deal %q already exists", p.ID)
		}
		e.DealID = p.ID
	case funnelwatch.EventDealStageChanged:
		a, err := liveDeal("deal_id", e.DealID)
		if err != nil {
			return err
		}
		if _, ok := b.f.ResolveStage(a.Deal.Pipeline, e.ToStage); !ok {
			return invalid("unknown stage %q in to_stage (deal %q is in pipeline %q)", e.ToStage, e.DealID, a.Deal.Pipeline)
		}
	case funnelwatch.EventDealUpdated, funnelwatch.EventDealDeleted:
		if _, err := liveDeal("deal_id", e.DealID); err != nil {
			return err
		}
	case funnelwatch.EventDealResponsibleChanged:
		if _, err := liveDeal("deal_id", e.DealID); err != nil {
			return err
		}
		if _, ok := b.f.User(e.To); !ok {
			return invalid("unknown user %q in to", e.To)
		}
	case funnelwatch.EventTaskCreated:
		if _, err := liveDeal("task.deal_id", e.Task.DealID); err != nil {
			return err
		}
		if err := user("task.assignee", e.Task.Assignee); err != nil {
			return err
		}
		if a, err := b.taskAggregate(e.Task.ID); err != nil {
			return err
		} else if a != nil {
			return invalid("task %q already exists", e.Task.ID)
		}
	case funnelwatch.EventTaskCompleted, funnelwatch.EventTaskDeleted, funnelwatch.EventTaskRescheduled:
		if _, err := liveTask(); err != nil {
			return err
		}
	case funnelwatch.EventCall:
		c := e.Call
		if err := user("call.user", c.User); err != nil {
			return err
		}
		if c.DealID != "" {
			if _, err := liveDeal("call.deal_id", c.DealID); err != nil {
				return err
			}
		}
	case funnelwatch.EventNoteAdded:
		if _, err := liveDeal("note.deal_id", e.Note.DealID); err != nil {
			return err
		}
		if err := user("note.author", e.Note.Author); err != nil {
			return err
		}
	}
	return nil
}

// apply appends the checked event and folds it.
func (b *batch) apply(e *funnelwatch.Event) error {
	if e.Type == funnelwatch.EventCall && e.DealID == "" {
		id, err := b.dealOfPhone(e.Call.Phone)
		if err != nil {
			return err
		}
		e.DealID = id
	}
	b.inserted = append(b.inserted, e)
	switch e.Type {
	case funnelwatch.EventDealCreated:
		if c := ContactOf(e.Deal.Contact); c != nil {
			b.contacts = append(b.contacts, c)
		}
		b.aggs[e.DealID] = NewAggregate()
	case funnelwatch.EventTaskCreated:
		b.taskDeal[e.Task.ID] = e.DealID
	case funnelwatch.EventCall:
		c := e.Call
		call := &funnelwatch.Call{ID: c.ID, User: c.User, DealID: e.DealID, Direction: c.Direction,
			Phone: phone.Key(c.Phone), StartedAt: c.StartedAt, DurationS: c.DurationS, Answered: c.Answered,
			RecordingURL: c.RecordingURL}
		b.calls = append(b.calls, call)
	case funnelwatch.EventNoteAdded:
		n := e.Note
		b.notes = append(b.notes, &funnelwatch.Note{ID: n.ID, DealID: n.DealID, Author: n.Author, Text: n.Text, At: e.At})
	}
	if e.DealID == "" {
		return nil
	}
	a, err := b.aggregate(e.DealID)
	if err != nil || a == nil {
		return err
	}
	if a.Deal != nil && e.At.Before(a.Deal.LastEventAt) {
		b.refold[e.DealID] = true
		return nil
	}
	a.Apply(b.f, e)
	return nil
}

// dealOfPhone finds the deal a call without a deal id belongs to: the
// latest deal of the contact with that phone, open deals first — looking
// at this batch's deals as well as the stored ones.
func (b *batch) dealOfPhone(number string) (string, error) {
	key := phone.Key(number)
	if key == "" {
		return "", nil
	}
	contact := "tel:" + key
	var best *funnelwatch.Deal
	better := func(d *funnelwatch.Deal) bool {
		if best == nil {
			return true
		}
		if d.Open() != best.Open() {
			return d.Open()
		}
		if !d.CreatedAt.Equal(best.CreatedAt) {
			return d.CreatedAt.After(best.CreatedAt)
		}
		return d.ID > best.ID
	}
	stored, err := b.tx.LatestDealOfContact(b.ctx, contact)
	switch {
	case err == nil:
		if a := b.aggs[stored.ID]; a != nil && a.Deal != nil {
			stored = a.Deal // this batch may have changed it
		}
		if stored.DeletedAt == nil {
			best = stored
		}
	case funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND:
		return "", err
	}
	for _, a := range b.aggs {
		if a != nil && a.Deal != nil && a.Deal.ContactID == contact && a.Deal.DeletedAt == nil && better(a.Deal) {
			best = a.Deal
		}
	}
	if best == nil {
		return "", nil
	}
	return best.ID, nil
}

// flush re-folds the deals that received events out of time order and
// writes every changed deal and task.
func (b *batch) flush() error {
	if err := b.tx.InsertEvents(b.ctx, b.inserted); err != nil {
		return err
	}
	ids := make([]string, 0, len(b.refold))
	for id := range b.refold {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		events, err := b.tx.Events(b.ctx, funnelwatch.EventFilter{DealID: id})
		if err != nil {
			return err
		}
		a := Fold(b.f, events)
		a.dirtyDeal, a.movedDeal = a.Deal != nil, a.Deal != nil
		for tid := range a.Tasks {
			a.dirtyTasks[tid] = true
		}
		b.aggs[id] = a
	}
	dealIDs := make([]string, 0, len(b.aggs))
	for id, a := range b.aggs {
		if a != nil {
			dealIDs = append(dealIDs, id)
		}
	}
	slices.Sort(dealIDs)
	var moved, touched []*funnelwatch.Deal
	var tasks []*funnelwatch.Task
	for _, id := range dealIDs {
		a := b.aggs[id]
		switch {
		case a.Deal == nil || !a.dirtyDeal:
		case a.movedDeal:
			moved = append(moved, a.Deal)
		default:
			touched = append(touched, a.Deal)
		}
		tids := make([]string, 0, len(a.dirtyTasks))
		for tid := range a.dirtyTasks {
			tids = append(tids, tid)
		}
		slices.Sort(tids)
		for _, tid := range tids {
			tasks = append(tasks, a.Tasks[tid])
		}
	}
	if err := b.tx.SaveContacts(b.ctx, b.contacts...); err != nil {
		return err
	}
	if err := b.tx.SaveDeals(b.ctx, moved...); err != nil {
		return err
	}
	if err := b.tx.SaveDealActivity(b.ctx, touched...); err != nil {
		return err
	}
	if err := b.tx.SaveTasks(b.ctx, tasks...); err != nil {
		return err
	}
	if err := b.tx.InsertCalls(b.ctx, b.calls...); err != nil {
		return err
	}
	return b.tx.InsertNotes(b.ctx, b.notes...)
}
