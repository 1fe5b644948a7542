package engine

import (
	"context"
	"encoding/json"
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

// Ingestor checks events against the funnel, appends them to a
// workspace's log and folds them into the current state of deals and
// tasks, which it keeps in memory.
//
// Only the log is written in the ingest transaction: an event is
// acknowledged once it is in the log, and the log is the source of truth.
// The state tables (deals, tasks, calls, notes, contacts) are written
// behind, by Flush, coalescing many batches into one transaction; a deal
// changed by ten batches is written once. Sync flushes, so a reader that
// calls it first sees every acknowledged event. After a crash, the first
// use re-folds from the log the deals whose events the tables had not yet
// seen (the projection checkpoint), so nothing acknowledged is lost.
//
// The Ingestor must be the only writer of its workspace's log (one
// process per workspace).
type Ingestor struct {
	Store     funnelwatch.Store
	Workspace string
	Funnel    *funnelwatch.Funnel
	// Now is the clock stamping received_at (time.Now when nil).
	Now func() time.Time
	// MaxCached bounds the aggregates kept in memory between batches
	// (default DefaultMaxCached); deals with unflushed changes always
	// stay.
	MaxCached int
	// OnCommit, when set, is called after each batch that added events
	// to the log (it wakes the rules engine, which takes the batch
	// handed over, or reads the log).
	OnCommit func()

	// handoff, when set, takes each committed batch as the log holds it,
	// before OnCommit is called (Live sets it: the engine then need not
	// read back and decode what was just written). Called with mu held,
	// in commit order.
	handoff func(committed)

	mu        sync.Mutex // one batch at a time: the store has one writer anyway
	recovered bool
	// whole is true while the cache holds every deal of the workspace and
	// taskDeal every task: from a start on an empty workspace until the
	// first eviction. A batch then knows a deal or task it does not hold
	// is new, without asking the store.
	whole       bool
	cache       map[string]*Aggregate // the deals worked on, live
	frozen      map[string][]byte     // the other cached deals, as records (ingestcache.go)
	codec       foldCodec
	maxLive     int               // the live deals kept (0: maxLiveCached; tests set it)
	taskDeal    map[string]string // task id → deal id, for the cached deals
	contactDeal map[string]string // contact id → its best deal among the cached ones
	pending     pending           // changes not yet in the state tables
	flushMu     sync.Mutex        // one Flush at a time
	kick        chan struct{}     // wakes Run when much is pending
	latest      time.Time         // the latest event time accepted by this Ingestor
	counts      IngestCounts
}

// IngestCounts are the events an Ingestor has taken since it started.
type IngestCounts struct {
	Accepted, Duplicates, Rejected int64
	LastSeq                        int64 // the log's last seq
}

// Counts returns what the Ingestor has taken so far.
func (in *Ingestor) Counts() IngestCounts {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.counts
	c.LastSeq = in.pending.seq
	return c
}

// Latest returns the latest event time this Ingestor has accepted.
func (in *Ingestor) Latest() time.Time {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.latest
}

// Ingest stores a batch in one transaction. Events are taken in event-time
// order (ties in the order given); each is checked against the funnel and
// the state left by those before it. A repeated id is a duplicate; an
// invalid event is rejected with a reason and the rest of the batch is
// kept. The error is for failures of the store only.
func (in *Ingestor) Ingest(ctx context.Context, events []funnelwatch.Event) (*Result, error) {
	return in.IngestWith(ctx, events, nil)
}

// IngestWith is Ingest with more to write in the same transaction: with
// is called after the batch's events are checked and appended, with
// their outcomes, and its error rolls everything back. The rules engine
// writes an action's outbox row, the findings and its checkpoint this
// way, together with the events its actions make.
func (in *Ingestor) IngestWith(ctx context.Context, events []funnelwatch.Event, with func(tx funnelwatch.Tx, res *Result) error) (*Result, error) {
	res := &Result{Outcomes: make([]Outcome, len(events)), Reasons: make([]string, len(events))}
	if len(events) == 0 && with == nil {
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
	if err := in.recover(ctx); err != nil {
		return nil, err
	}
	prev := in.pending.seq // the log's last seq before this batch
	var b *batch
	var received time.Time
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
		b = &batch{ctx: ctx, tx: tx, f: in.Funnel, in: in, aggs: map[string]*Aggregate{}, taskDeal: map[string]string{}, noTask: map[string]bool{}, refold: map[string]bool{}, changed: map[string]bool{}}
		if err := b.prefetch(events); err != nil {
			return err
		}
		received = now().UTC()
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
			b.origin = append(b.origin, i)
		}
		if err := b.finish(); err != nil {
			return err
		}
		if with != nil {
			return with(tx, res)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	in.commit(b)
	in.counts.Accepted += int64(res.Count(Accepted))
	in.counts.Duplicates += int64(res.Count(Duplicate))
	in.counts.Rejected += int64(res.Count(Rejected))
	for _, e := range b.inserted {
		if e.At.After(in.latest) {
			in.latest = e.At
		}
	}
	if len(b.inserted) > 0 {
		if in.handoff != nil {
			if c, ok := b.committed(prev, events, received); ok {
				in.handoff(c)
			}
		}
		if in.OnCommit != nil {
			in.OnCommit()
		}
	}
	return res, nil
}

// handTo makes f the taker of committed batches (nil: none).
func (in *Ingestor) handTo(f func(committed)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.handoff = f
}

// committed is a batch appended to the log, as a read of the log would
// return it: the rules engine takes it instead of reading back and
// decoding the rows just written.
type committed struct {
	after  int64               // the workspace's last seq before the batch
	events []funnelwatch.Event // in seq order: after+1, after+2, …
	// stored holds, for an event that came without its JSON (Raw), the
	// payload the log keeps, to be decoded as a read would decode it;
	// nil for an event that is already as the log gives it back.
	stored [][]byte
}

// decode returns the i-th event of a batch that came without its JSON, as
// a read of the log decodes its stored payload.
func (c *committed) decode(i int) (funnelwatch.Event, error) {
	d, err := funnelwatch.DecodeEvent(c.stored[i])
	if err != nil {
		return funnelwatch.Event{}, err
	}
	e := &c.events[i]
	if d.DealID == "" {
		d.DealID = e.DealID
	}
	d.Seq, d.ReceivedAt = e.Seq, e.ReceivedAt
	return d, nil
}

// committed returns the batch as the log now holds it, when its seqs are
// known: the log's seqs grow with insertion, so when the batch's last is
// exactly prev + its size, the batch holds every seq in between, in
// order. Another writer's rows among them (another workspace's sharing a
// sequence, a writer that is not this Ingestor) leave a wider range, and
// no hand-off: the engine reads the log.
func (b *batch) committed(prev int64, given []funnelwatch.Event, received time.Time) (committed, bool) {
	n := len(b.inserted)
	if n == 0 || b.maxSeq-prev != int64(n) {
		return committed{}, false
	}
	// The log keeps received_at in microseconds.
	rec := time.UnixMicro(received.UnixMicro()).UTC()
	c := committed{after: prev, events: make([]funnelwatch.Event, n)}
	for j, p := range b.inserted {
		var h funnelwatch.Event
		if len(p.Raw) > 0 {
			// The log keeps Raw, which read back decodes to the event as
			// the caller decoded it (DecodeEvent is the only maker of
			// Raw): the caller's copy, not the one the checks
			// normalised.
			h = given[b.origin[j]]
		} else {
			// Stored as the JSON of the event as checked (eventPayload
			// of sqlstore); read back, that JSON is decoded.
			q := *p
			q.Seq = 0
			payload, err := json.Marshal(&q)
			if err != nil {
				return committed{}, false
			}
			if c.stored == nil {
				c.stored = make([][]byte, n)
			}
			c.stored[j] = payload
			h = *p
		}
		h.Seq = prev + int64(j) + 1
		h.ReceivedAt = rec
		if h.DealID == "" {
			// The deal the event was resolved to at ingest, as the log's
			// deal_id column keeps it.
			h.DealID = p.DealID
			if h.DealID == "" {
				h.DealID = p.DealRef()
			}
		}
		c.events[j] = h
	}
	return c, true
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
	origin   []int                 // per inserted event, its index in the caller's slice
	contacts []*funnelwatch.Contact
	calls    []*funnelwatch.Call
	notes    []*funnelwatch.Note
	maxSeq   int64           // the log's last seq after this batch
	changed  map[string]bool // deals this batch changed
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
	if b.in.whole {
		// Nothing outside the cache: a task it does not know is new, as
		// is a deal (aggregate's nil entry below).
		for _, tid := range taskIDs {
			b.noTask[tid] = true
		}
		taskIDs = nil
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
		if a, live := b.in.cached(id); a != nil {
			if live {
				a = a.clone()
			}
			b.aggs[id] = a
			continue
		}
		load = append(load, id)
	}
	if len(load) == 0 {
		return nil
	}
	if b.in.whole {
		for _, id := range load {
			b.aggs[id] = nil
		}
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
			a.Tasks.put(t)
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
	if a, live := b.in.cached(id); a != nil {
		if live {
			a = a.clone()
		}
		b.aggs[id] = a
		return a, nil
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
		a.Tasks.put(t)
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
	c, k, n := facts(e)
	b.contacts, b.calls, b.notes = appendNonNil(b.contacts, c), appendNonNil(b.calls, k), appendNonNil(b.notes, n)
	switch e.Type {
	case funnelwatch.EventDealCreated:
		b.aggs[e.DealID] = NewAggregate()
	case funnelwatch.EventTaskCreated:
		b.taskDeal[e.Task.ID] = e.DealID
	}
	if e.DealID == "" {
		return nil
	}
	a, err := b.aggregate(e.DealID)
	if err != nil || a == nil {
		return err
	}
	b.changed[e.DealID] = true
	if a.Deal != nil && e.At.Before(a.Deal.LastEventAt) && !(!b.refold[e.DealID] && foldsOnTop(a, e)) {
		// Late: finish re-folds the deal from the log in event-time
		// order. Folded on top meanwhile, so that the rest of the batch
		// is checked against it (a task it creates exists for the
		// events after it).
		b.refold[e.DealID] = true
	}
	a.Apply(b.f, e)
	return nil
}

// foldsOnTop reports whether an event older than its deal's latest folds
// to the same state applied on top as in its place in event time, so the
// deal need not be re-folded from the log. It holds for the task an
// engine action creates (an "act:" event, which arrives late whenever
// the clients run ahead of the engine): its id is the action's key,
// which no event before it can name; its assignee is set, so it does not
// depend on who was responsible at its time; it comes after the deal's
// creation; and creating a task leaves the deal's row alone (Apply moves
// LastEventAt only forward).
func foldsOnTop(a *Aggregate, e *funnelwatch.Event) bool {
	return e.Type == funnelwatch.EventTaskCreated && strings.HasPrefix(e.ID, "act:") &&
		e.Task != nil && e.Task.Assignee != "" && a.Tasks.Get(e.Task.ID) == nil &&
		!e.At.Before(a.Deal.CreatedAt)
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
	better := func(d *funnelwatch.Deal) bool { return best == nil || betterDeal(d, best) }
	stored, err := b.tx.LatestDealOfContact(b.ctx, contact)
	switch {
	case err == nil:
		// The state tables may lag: the batch's or the cache's copy is
		// the deal as it is now.
		if a := b.aggs[stored.ID]; a != nil && a.Deal != nil {
			stored = a.Deal
		} else if a, _ := b.in.cached(stored.ID); a != nil {
			stored = a.Deal
		}
		if stored.DeletedAt == nil {
			best = stored
		}
	case funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND:
		return "", err
	}
	if id, ok := b.in.contactDeal[contact]; ok {
		// A deal not yet flushed to the state tables.
		if a, _ := b.in.cached(id); a != nil && a.Deal.DeletedAt == nil && better(a.Deal) {
			best = a.Deal
		}
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

// finish appends the batch's events to the log and re-folds, from the
// log, the deals that received events out of time order.
func (b *batch) finish() error {
	var err error
	if b.maxSeq, err = b.tx.InsertEvents(b.ctx, b.inserted); err != nil {
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
		a.markAllDirty()
		b.aggs[id] = a
	}
	return nil
}
