package engine

import (
	"context"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/phone"
)

// pending is what the state tables still lack.
type pending struct {
	dirty    map[string]bool // deals whose cached aggregate has unwritten changes
	contacts []*funnelwatch.Contact
	calls    []*funnelwatch.Call
	notes    []*funnelwatch.Note
	seq      int64 // the log's last seq the cache reflects
	flushed  int64 // the seq the state tables reflect
}

func (p *pending) empty() bool {
	return len(p.dirty) == 0 && len(p.contacts) == 0 && len(p.calls) == 0 && len(p.notes) == 0 && p.seq == p.flushed
}

// flushAt is how many deals may wait before Run is woken early.
const flushAt = 20000

// DefaultFlushInterval is how far the state tables may trail the log when
// nobody reads them (a reader's Sync closes the gap at once). A second
// lets a hot deal's many events be written once.
const DefaultFlushInterval = time.Second

// recover brings the state tables up to the log once per Ingestor: the
// deals with events past the projection checkpoint are folded again from
// the log. Called with in.mu held.
func (in *Ingestor) recover(ctx context.Context) error {
	if in.recovered {
		return nil
	}
	in.cache, in.taskDeal, in.contactDeal = map[string]*Aggregate{}, map[string]string{}, map[string]string{}
	in.frozen = nil
	in.pending = pending{dirty: map[string]bool{}}
	if in.kick == nil {
		in.kick = make(chan struct{}, 1)
	}
	var seq int64
	whole := false
	err := in.Store.Update(ctx, in.Workspace, func(tx funnelwatch.Tx) error {
		from, err := tx.ProjectionSeq(ctx)
		if err != nil {
			return err
		}
		seq = from
		if whole, err = emptyWorkspace(ctx, tx); err != nil || whole {
			return err
		}
		deals := map[string]bool{}
		var contacts []*funnelwatch.Contact
		var calls []*funnelwatch.Call
		var notes []*funnelwatch.Note
		for {
			events, err := tx.Events(ctx, funnelwatch.EventFilter{AfterSeq: seq, BySeq: true, Limit: 10000})
			if err != nil {
				return err
			}
			if len(events) == 0 {
				break
			}
			for i := range events {
				e := &events[i]
				seq = e.Seq
				if e.DealID != "" {
					deals[e.DealID] = true
				}
				c, k, n := facts(e)
				contacts, calls, notes = appendNonNil(contacts, c), appendNonNil(calls, k), appendNonNil(notes, n)
			}
		}
		if seq == from {
			return nil
		}
		ids := make([]string, 0, len(deals))
		for id := range deals {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		aggs := make([]*Aggregate, 0, len(ids))
		for _, id := range ids {
			events, err := tx.Events(ctx, funnelwatch.EventFilter{DealID: id})
			if err != nil {
				return err
			}
			a := Fold(in.Funnel, events)
			if a.Deal != nil {
				a.markAllDirty()
				aggs = append(aggs, a)
			}
		}
		if err := writeState(ctx, tx, aggs, contacts, calls, notes); err != nil {
			return err
		}
		return tx.SetProjectionSeq(ctx, seq)
	})
	if err != nil {
		return err
	}
	in.pending.seq, in.pending.flushed = seq, seq
	in.recovered, in.whole = true, whole
	return nil
}

// emptyWorkspace reports whether the workspace has neither events nor
// deals: a cache that starts empty then holds all there is.
func emptyWorkspace(ctx context.Context, tx funnelwatch.Tx) (bool, error) {
	n, err := tx.EventCount(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	deals, err := tx.Deals(ctx, funnelwatch.DealFilter{IncludeDeleted: true, Limit: 1})
	return len(deals) == 0, err
}

func appendNonNil[T any](s []*T, v *T) []*T {
	if v == nil {
		return s
	}
	return append(s, v)
}

// facts returns the contact, call and note an event records, as the state
// tables keep them; e.DealID is the deal the event was resolved to.
func facts(e *funnelwatch.Event) (*funnelwatch.Contact, *funnelwatch.Call, *funnelwatch.Note) {
	switch {
	case e.Type == funnelwatch.EventDealCreated && e.Deal != nil:
		return ContactOf(e.Deal.Contact), nil, nil
	case e.Type == funnelwatch.EventCall && e.Call != nil:
		c := e.Call
		return nil, &funnelwatch.Call{ID: c.ID, User: c.User, DealID: e.DealID, Direction: c.Direction,
			Phone: phone.Key(c.Phone), StartedAt: c.StartedAt, DurationS: c.DurationS, Answered: c.Answered,
			RecordingURL: c.RecordingURL}, nil
	case e.Type == funnelwatch.EventNoteAdded && e.Note != nil:
		n := e.Note
		return nil, nil, &funnelwatch.Note{ID: n.ID, DealID: n.DealID, Author: n.Author, Text: n.Text, At: e.At}
	}
	return nil, nil, nil
}

// commit takes a committed batch into memory: its changed aggregates
// replace the cached ones and what they changed waits for Flush. Called
// with in.mu held.
func (in *Ingestor) commit(b *batch) {
	for id, a := range b.aggs {
		if a == nil || a.Deal == nil {
			continue
		}
		if !b.changed[id] && in.holds(id) {
			continue // only read: the cached aggregate is the same
		}
		in.cache[id] = a
		delete(in.frozen, id)
		for _, t := range a.Tasks {
			in.taskDeal[t.ID] = id
		}
		if a.dirty() {
			in.pending.dirty[id] = true
		}
		if c := a.Deal.ContactID; c != "" {
			cur, _ := in.cached(in.contactDeal[c])
			if cur == nil || cur.Deal.ContactID != c || betterDeal(a.Deal, cur.Deal) || cur == a {
				in.contactDeal[c] = id
			}
		}
	}
	in.pending.contacts = append(in.pending.contacts, b.contacts...)
	in.pending.calls = append(in.pending.calls, b.calls...)
	in.pending.notes = append(in.pending.notes, b.notes...)
	if b.maxSeq > in.pending.seq {
		in.pending.seq = b.maxSeq
	}
	in.evict()
	if len(in.pending.dirty) >= flushAt {
		select {
		case in.kick <- struct{}{}:
		default:
		}
	}
}

// betterDeal reports whether d is a better home than cur for a call from
// their contact: open deals first, then the newest.
func betterDeal(d, cur *funnelwatch.Deal) bool {
	if d.Open() != cur.Open() {
		return d.Open()
	}
	if !d.CreatedAt.Equal(cur.CreatedAt) {
		return d.CreatedAt.After(cur.CreatedAt)
	}
	return d.ID > cur.ID
}

// DefaultMaxCached is how many deals the Ingestor keeps folded between
// batches: the deals being worked on, not the whole funnel. The rules
// engine holds every open deal itself; a second copy of each here, about
// 1 KiB a deal, was a third of the server's heap with 1,000,000 open
// deals (docs/performance.md, "Open deals held in memory"). A deal not
// cached is read back from the state tables by the batch that needs it,
// with the batch's other deals, in three queries — which is not cheap:
// with 50,000 the ingest benchmark (75,000 deals, each as likely to get
// the next event) ran at half its speed. 200,000 holds its working set.
const DefaultMaxCached = 200_000

// evict keeps the cache within MaxCached, live and frozen deals together
// (the written ones beyond maxLiveCached are frozen first): written,
// closed deals go first, then any written deal. Deals waiting to be
// written always stay.
func (in *Ingestor) evict() {
	limit := in.MaxCached
	if limit <= 0 {
		limit = DefaultMaxCached
	}
	in.freezeWritten()
	if len(in.cache)+len(in.frozen) <= limit {
		return
	}
	full := func() bool { return len(in.cache)+len(in.frozen) > limit*9/10 }
	for _, closedOnly := range []bool{true, false} {
		for id, rec := range in.frozen {
			if !full() {
				return
			}
			a := in.codec.thaw(rec)
			if closedOnly && a.Deal.Open() {
				continue
			}
			in.forget(id, a)
			delete(in.frozen, id)
		}
		for id, a := range in.cache {
			if !full() {
				return
			}
			if in.pending.dirty[id] || (closedOnly && a.Deal.Open()) {
				continue
			}
			in.forget(id, a)
			delete(in.cache, id)
		}
	}
}

// forget drops what the cache's maps keep of a deal it no longer holds.
func (in *Ingestor) forget(id string, a *Aggregate) {
	for _, t := range a.Tasks {
		delete(in.taskDeal, t.ID)
	}
	if in.contactDeal[a.Deal.ContactID] == id {
		delete(in.contactDeal, a.Deal.ContactID)
	}
	in.whole = false
}

// Flush writes what the state tables lack in one transaction and moves
// the projection checkpoint. Batches ingested meanwhile wait for the next
// Flush.
func (in *Ingestor) Flush(ctx context.Context) error {
	in.flushMu.Lock()
	defer in.flushMu.Unlock()
	in.mu.Lock()
	if err := in.recover(ctx); err != nil {
		in.mu.Unlock()
		return err
	}
	if in.pending.empty() {
		in.mu.Unlock()
		return nil
	}
	refs := make(map[string]*Aggregate, len(in.pending.dirty))
	for id := range in.pending.dirty {
		refs[id] = in.cache[id]
	}
	p := in.pending
	in.pending.contacts, in.pending.calls, in.pending.notes = nil, nil, nil
	in.mu.Unlock()

	// The referenced aggregates are not changed by later batches (those
	// replace them with copies), so they are read here without the lock.
	ids := make([]string, 0, len(refs))
	for id := range refs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	aggs := make([]*Aggregate, len(ids))
	for i, id := range ids {
		aggs[i] = refs[id]
	}
	err := in.Store.Update(ctx, in.Workspace, func(tx funnelwatch.Tx) error {
		if err := writeState(ctx, tx, aggs, p.contacts, p.calls, p.notes); err != nil {
			return err
		}
		return tx.SetProjectionSeq(ctx, p.seq)
	})

	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		in.pending.contacts = append(p.contacts, in.pending.contacts...)
		in.pending.calls = append(p.calls, in.pending.calls...)
		in.pending.notes = append(p.notes, in.pending.notes...)
		return err
	}
	for id, ref := range refs {
		if in.cache[id] == ref {
			ref.clearDirty()
			delete(in.pending.dirty, id)
		}
	}
	in.pending.flushed = p.seq
	return nil
}

// Sync makes the state tables reflect every acknowledged event; readers
// call it before reading them.
func (in *Ingestor) Sync(ctx context.Context) error { return in.Flush(ctx) }

// Run flushes every interval (and sooner when much is waiting) until ctx
// ends, then flushes once more and returns that flush's error. A failed
// flush loses nothing (the log has the events); it is reported to onError
// and tried again at the next tick.
func (in *Ingestor) Run(ctx context.Context, interval time.Duration, onError func(error)) error {
	in.mu.Lock()
	if in.kick == nil {
		in.kick = make(chan struct{}, 1)
	}
	kick := in.kick
	in.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return in.Flush(context.WithoutCancel(ctx))
		case <-t.C:
		case <-kick:
		}
		if err := in.Flush(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
	}
}

// writeState writes aggregates and facts to the state tables. Deals that
// only gained activity get the cheap write.
func writeState(ctx context.Context, tx funnelwatch.Tx, aggs []*Aggregate, contacts []*funnelwatch.Contact,
	calls []*funnelwatch.Call, notes []*funnelwatch.Note) error {
	var moved, touched []*funnelwatch.Deal
	var tasks []*funnelwatch.Task
	var reset []string
	var visits []*funnelwatch.StageVisit
	for _, a := range aggs {
		r, vs := a.stageVisits()
		if r {
			reset = append(reset, a.Deal.ID)
		}
		for i := range vs {
			visits = append(visits, &vs[i])
		}
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
			tasks = append(tasks, a.Tasks.Get(tid))
		}
	}
	if err := tx.SaveContacts(ctx, contacts...); err != nil {
		return err
	}
	if err := tx.SaveDeals(ctx, moved...); err != nil {
		return err
	}
	if err := tx.SaveDealActivity(ctx, touched...); err != nil {
		return err
	}
	if err := tx.SaveTasks(ctx, tasks...); err != nil {
		return err
	}
	// A re-folded deal's visits are its whole history: the stored ones
	// go first.
	if err := tx.DeleteStageVisits(ctx, reset...); err != nil {
		return err
	}
	if err := tx.SaveStageVisits(ctx, visits...); err != nil {
		return err
	}
	if err := tx.InsertCalls(ctx, calls...); err != nil {
		return err
	}
	return tx.InsertNotes(ctx, notes...)
}
