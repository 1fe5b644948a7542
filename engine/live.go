package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Live runs the regulations in a server, on the wall clock (DESIGN §5):
// the same replay a backtest runs, fed from the event log as batches are
// committed, with the clock moved to the present whenever the engine has
// caught up with the log. Once it has, the batches its Ingestor commits
// are handed to it as the log holds them, so it does not read back and
// decode what was just written; the log stays the source: what is not
// handed over, or does not follow on, is read from it.
//
// Findings, actions and the engine's checkpoint are written in one
// transaction with the events the actions make (tasks, moves,
// reassignments, copies), through the Ingestor, so they are events in the
// log like any other. Every action has an idempotency key derived from
// its automation, its cause and its index: decided again (after a crash,
// the engine replays the log), it is a duplicate the outbox and the log
// refuse, never a second action.
//
// Events that arrive after the engine's clock has passed their time (a
// CRM's late webhook) are folded in and evaluated at the engine's clock;
// deadlines already past fire at once. A history posted in one batch, or
// read from the log when the server starts, is evaluated in event time,
// exactly as a backtest would.
type Live struct {
	Store funnelwatch.Store
	// Log, when set, is what the log is read from until the engine has
	// first caught up (Store after): a store over the same database
	// that reads the whole log without keeping it in the process's
	// memory (sqlite.OpenLogReader).
	Log       funnelwatch.Store
	Workspace string
	Regs      *regulations.Regulations
	Ingestor  *Ingestor
	// Now is the wall clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
	// Poll is the longest the engine sleeps when nothing is due sooner
	// and nothing arrives (default 1s).
	Poll time.Duration
	// ObserveUntil, when set, marks the end of a recorded history (see
	// funnelwatch.EngineState); it is kept in the checkpoint.
	ObserveUntil time.Time
	// OnWrite, when set, is called after each write that added actions
	// (the outbox dispatcher listens).
	OnWrite func()
	// OnFindings, when set, is called after each write with the findings
	// it stored, opened or resolved (benchmarks measure latency with it).
	OnFindings func([]*funnelwatch.Violation)
	// SnapshotEvery is the fewest events the engine evaluates between two
	// snapshots of its state (default 20,000); it also lets snapshotPace
	// times as long as the last snapshot took pass, so that they take at
	// most that share of its time however many deals it holds. Negative:
	// no snapshot is written or read, and a start reads the whole log.
	SnapshotEvery int

	mu       sync.Mutex
	r        *replay
	seq      int64     // the log's last seq the engine has read
	clock    time.Time // the engine's clock: never goes back
	state    funnelwatch.EngineState
	started  bool
	caught   bool
	cron     bool // the scheduled automations are on the clock
	stored   map[string]*funnelwatch.Violation
	out      outputs
	wake     chan struct{}
	wakeOnce sync.Once
	stats    LiveStats
	// The regulations' digest ("" when snapshots are off), and the events
	// evaluated since the last snapshot was written or read.
	digest    string
	sinceSnap int64
	forceSnap bool // the next write stores a snapshot if anything changed
	// When the last snapshot was stored (or the engine started), what
	// storing it took, and its size (the next one's buffer is made
	// that big at once).
	lastSnap     time.Time
	lastSnapCost time.Duration
	snapSize     int
	// freezeEvery paces the sweeps for deals to freeze (see
	// freezer.every; tests set it).
	freezeEvery int

	// The batches the Ingestor committed, as the log holds them, not yet
	// taken (see take); guarded by hmu, not mu: the Ingestor hands them
	// over holding its own lock, which the engine takes to write.
	hmu     sync.Mutex
	handed  []committed
	handedN int // events in handed
}

// LiveStats are the engine's gauges.
type LiveStats struct {
	Seq           int64     // the log's last seq read
	Clock         time.Time // the engine's clock
	OpenFindings  int
	PendingTimers int   // the monitor's checks and the automations' firings waiting
	Events        int64 // events evaluated since start
	Late          int64 // of which arrived after the clock had passed them
	Actions       int64 // actions decided since start
	Written       int64 // write transactions
	Handed        int64 // of Events, those taken as the Ingestor committed them, not read back from the log
	Restored      int64 // the seq of the snapshot the engine started from (0: it read the whole log)
	Snapshots     int64 // snapshots written since start
	Deals         int   // deals held, frozen ones included
	Frozen        int   // deals held as records (see freezer)
	Thawed        int64 // frozen deals read back since start
}

// outputs are what waits to be written.
type outputs struct {
	violations map[string]*funnelwatch.Violation
	actions    []*funnelwatch.ActionRecord
	events     []funnelwatch.Event
	eventOf    []int // index into actions, per event
}

func (o *outputs) empty() bool {
	return len(o.violations) == 0 && len(o.actions) == 0 && len(o.events) == 0
}

// pageSize is how many log events the engine reads at a time.
const pageSize = 2000

// maxHanded bounds the committed events waiting to be taken: an engine
// that far behind reads the log instead.
const maxHanded = 20000

func (l *Live) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Live) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

// Notify tells the engine that the log grew; it never blocks, and never
// waits for the engine (the Ingestor calls it holding its own lock, which
// the engine takes to write).
func (l *Live) Notify() {
	select {
	case l.wakeChan() <- struct{}{}:
	default:
	}
}

func (l *Live) wakeChan() chan struct{} {
	l.wakeOnce.Do(func() { l.wake = make(chan struct{}, 1) })
	return l.wake
}

// Stats returns the engine's gauges.
func (l *Live) Stats() LiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Seq, s.Clock = l.seq, l.clock
	if l.r != nil {
		s.OpenFindings = l.r.monitor.OpenCount()
		s.PendingTimers = l.r.monitor.PendingTimers() + l.r.auto.Pending()
		s.Deals, s.Frozen, s.Thawed = len(l.r.aggs)+len(l.r.fz.recs), len(l.r.fz.recs), l.r.fz.thawed
	}
	return s
}

// start sets the engine up: an empty replay, the checkpoint's history
// mark, and the findings the store has open (to close those that the
// replay no longer finds once it has caught up).
func (l *Live) start(ctx context.Context) error {
	var st funnelwatch.EngineState
	var snap funnelwatch.EngineSnapshot
	var open []*funnelwatch.Violation
	if l.SnapshotEvery >= 0 && l.digest == "" {
		var err error
		if l.digest, err = RegulationsDigest(l.Regs); err != nil {
			l.logger().Warn("engine snapshots off", "err", err)
			l.SnapshotEvery = -1
		}
	}
	t := true
	err := l.Store.View(ctx, l.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		if st, err = tx.EngineState(ctx); err != nil {
			return err
		}
		open, err = tx.Violations(ctx, funnelwatch.ViolationFilter{Open: &t})
		return err
	})
	if err != nil {
		return err
	}
	if l.SnapshotEvery >= 0 {
		// Read as the log is, where it is read without mapping the
		// database into the process's memory.
		from := l.Store
		if l.Log != nil {
			from = l.Log
		}
		err := from.View(ctx, l.Workspace, func(tx funnelwatch.ReadTx) (err error) {
			snap, err = tx.EngineSnapshot(ctx)
			return err
		})
		if err != nil {
			// A snapshot that cannot be read is as good as none: the
			// whole log is read (a store that cannot be reached fails
			// that read, and the start is tried again).
			l.logger().Warn("rules engine snapshot not read: reading the whole log", "err", err)
			snap = funnelwatch.EngineSnapshot{}
		}
	}
	if l.ObserveUntil.IsZero() {
		l.ObserveUntil = st.ObserveUntil
	}
	l.state = st
	l.stored = map[string]*funnelwatch.Violation{}
	for _, v := range open {
		l.stored[v.ID] = v
	}
	// No taskDeal nor best: the log gives every event its deal (resolved
	// at ingest), and the events of actions name theirs, so nothing is
	// placed by its task or its phone here — and a map of every task and
	// of every contact was ~100 bytes a deal.
	l.r = l.newReplay()
	l.out.violations = map[string]*funnelwatch.Violation{}
	if snap.Seq > 0 {
		l.resume(snap, st)
	}
	l.started = true
	if l.Ingestor != nil && l.Ingestor.Workspace == l.Workspace {
		l.Ingestor.handTo(l.hand)
	}
	return nil
}

// newReplay returns the engine's replay of the log, empty.
func (l *Live) newReplay() *replay {
	r := &replay{regs: l.Regs, mode: Simulate, aggs: map[string]*Aggregate{},
		monitor: NewMonitor(l.Regs), auto: NewAutomator(l.Regs), res: &BacktestResult{},
		observeUntil: l.ObserveUntil, echo: map[string]bool{}, seen: map[string]bool{}, fz: freezer{every: l.freezeEvery}}
	r.monitor.Forget()
	r.auto.Forget()
	r.onAction = l.onAction
	return r
}

// resume takes the engine's state from the stored snapshot, when it is of
// this layout and these regulations and not past the checkpoint;
// otherwise (and when it cannot be read) the engine reads the whole log.
func (l *Live) resume(snap funnelwatch.EngineSnapshot, st funnelwatch.EngineState) {
	why := ""
	switch {
	case snap.Format != snapshotFormat:
		why = "another layout: " + snap.Format
	case snap.Digest != l.digest:
		why = "other regulations"
	case snap.Seq > st.Seq:
		why = "past the checkpoint"
	}
	if why == "" {
		err := l.restore(snap.Data)
		if err == nil {
			l.stats.Restored = snap.Seq
			l.logger().Info("rules engine resumed from its snapshot", "seq", snap.Seq, "bytes", len(snap.Data))
			return
		}
		// restore sets the position and the clock only once it has read
		// everything; the replay it half filled is made again.
		why = err.Error()
		l.r = l.newReplay()
	}
	l.logger().Info("rules engine snapshot not used: reading the whole log", "seq", snap.Seq, "reason", why)
}

// hand keeps a batch the Ingestor committed, for the next Step to take.
// It never blocks on the engine.
func (l *Live) hand(c committed) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	if l.handedN+len(c.events) > maxHanded {
		// Too far behind: what is dropped is read from the log.
		l.handed, l.handedN = nil, 0
	}
	l.handed = append(l.handed, c)
	l.handedN += len(c.events)
}

// take feeds the committed batches that continue the log from the
// engine's position, in seq order, and drops those it has already read.
// At a gap (a batch that does not start at or before l.seq: one was
// dropped, or the engine is behind) it stops, and Step reads the log.
func (l *Live) take(ctx context.Context) error {
	l.hmu.Lock()
	q := l.handed
	l.handed, l.handedN = nil, 0
	l.hmu.Unlock()
	for _, c := range q {
		if c.after > l.seq {
			return nil // the log has what lies between
		}
		for i := range c.events {
			e := &c.events[i]
			if e.Seq <= l.seq {
				continue
			}
			if !l.echoed(e) {
				if c.stored != nil && c.stored[i] != nil {
					d, err := c.decode(i)
					if err != nil {
						return nil // the read fails the same way, and says so
					}
					e = &d
				}
				l.stats.Handed++
			}
			if err := l.feed(ctx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// echoed reports whether e is the event of an action decided here and
// folded already, which feed skips by its id.
func (l *Live) echoed(e *funnelwatch.Event) bool {
	key, ok := strings.CutPrefix(e.ID, "act:")
	return ok && l.r.echo[key]
}

// Step reads what the log gained, evaluates it, moves the clock to now
// once caught up, and writes the findings and actions. Run calls it; tests
// call it to drive the engine on a simulated wall clock.
func (l *Live) Step(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		if err := l.start(ctx); err != nil {
			return err
		}
	}
	from := l.Store
	if !l.caught && l.Log != nil {
		from = l.Log
	}
	for {
		if l.caught {
			// What the Ingestor committed since; the read below then
			// finds only what it did not hand over (usually nothing).
			if err := l.take(ctx); err != nil {
				return err
			}
		}
		var page []funnelwatch.Event
		err := from.View(ctx, l.Workspace, func(tx funnelwatch.ReadTx) error {
			var err error
			page, err = tx.Events(ctx, funnelwatch.EventFilter{AfterSeq: l.seq, BySeq: true, Limit: pageSize})
			return err
		})
		if err != nil {
			return err
		}
		for i := range page {
			if err := l.feed(ctx, &page[i]); err != nil {
				return err
			}
		}
		if len(page) < pageSize {
			break
		}
		// Catching up on a long log: write as it goes, so what waits
		// stays small.
		l.collect()
		l.r.sweepIfDue()
		if len(l.out.violations)+len(l.out.actions) > 5000 {
			if err := l.write(ctx); err != nil {
				return err
			}
		}
	}
	l.tick(l.now())
	l.collect()
	l.r.sweepIfDue()
	if !l.caught {
		l.caught = true
		l.reconcile()
	}
	return l.write(ctx)
}

// feed evaluates one event of the log.
func (l *Live) feed(ctx context.Context, e *funnelwatch.Event) error {
	r := l.r
	defer func() { l.seq = e.Seq }()
	if key, ok := strings.CutPrefix(e.ID, "act:"); ok {
		if r.echo[key] {
			delete(r.echo, key) // decided and folded here already
			return nil
		}
		r.seen[key] = true
	}
	l.stats.Events++
	l.sinceSnap++
	if !l.cron {
		r.auto.Start(e.At)
		l.cron = true
	}
	if e.At.Before(l.clock) {
		l.stats.Late++
		if e.DealID != "" {
			r.monitor.Late(e.DealID, e.At)
		}
		if !r.instant.Equal(l.clock) {
			r.settle()
			r.instant = l.clock
		}
	} else if !e.At.Equal(r.instant) {
		r.settle()
		r.advance(e.At, false)
		r.instant = e.At
		l.clock = e.At
	}
	if a := r.deal(e.DealID); e.DealID != "" && a != nil && a.Deal != nil && e.At.Before(a.Deal.LastEventAt) {
		if err := l.refold(ctx, e); err != nil {
			return err
		}
	} else {
		r.apply(e)
	}
	if e.At.Before(l.clock) {
		// Each late event is evaluated on its own, so a finding it ends
		// resolves at its time.
		r.settle()
	}
	return nil
}

// refold takes an event older than the latest one of its deal: the deal
// is folded again from its log in event-time order, as the Ingestor does,
// and the rules see the deal as it now is.
func (l *Live) refold(ctx context.Context, e *funnelwatch.Event) error {
	r := l.r
	var events []funnelwatch.Event
	err := l.Store.View(ctx, l.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		events, err = tx.Events(ctx, funnelwatch.EventFilter{DealID: e.DealID})
		return err
	})
	if err != nil {
		return err
	}
	// The events read so far, and those of actions decided here and not
	// yet written.
	kept := events[:0]
	for _, x := range events {
		if x.Seq <= e.Seq {
			kept = append(kept, x)
		}
	}
	for _, x := range l.out.events {
		if x.DealID == e.DealID {
			kept = append(kept, x)
		}
	}
	slices.SortStableFunc(kept, func(a, b funnelwatch.Event) int { return a.At.Compare(b.At) })
	old := r.deal(e.DealID)
	prev := *old.Deal
	a := Fold(&r.regs.Funnel, kept)
	a.untrack() // the engine's copy writes nothing: no visits to keep
	// What the monitor and the automations keep of the deal goes with it.
	// The old aggregate lets go of them: a timer finds its deal's
	// aggregate in the map, and the robots' firing checks that it holds
	// their state (Automator.fire).
	a.mon, a.auto = old.mon, old.auto
	old.mon, old.auto = nil, nil
	r.aggs[e.DealID] = a
	for i := range r.touched {
		if r.touched[i].a == old { // touched at this instant before: evaluated as it now is
			r.touched[i].a = a
		}
	}
	r.touched = append(r.touched, touch{e.DealID, a})
	r.touchedDeal(e.DealID)
	r.monitor.Observe(e, &prev, a, r.deal)
	r.auto.OnEvent(e, &prev, a)
	return nil
}

// tick moves the clock to now: checks and firings due by then happen.
func (l *Live) tick(now time.Time) {
	r := l.r
	if !l.cron {
		r.auto.Start(now)
		l.cron = true
	}
	r.settle()
	if now.Before(l.clock) {
		return // the wall clock stepped back: the engine's does not
	}
	// Deadlines at now are checked after the events of now, which are in.
	r.advance(now, true)
	r.settle()
	r.instant, l.clock = now, now
}

// onAction takes an action the replay decided to the outbox, and the
// event it made to the log.
func (l *Live) onAction(x *Action, e *funnelwatch.Event, observed bool, reason string) {
	l.stats.Actions++
	payload, _ := json.Marshal(x.View(l.Regs.Location))
	rec := &funnelwatch.ActionRecord{Key: x.Key, Type: string(x.Type), Rule: x.Rule, DealID: x.DealID, At: x.At, Payload: payload}
	internal := x.Type == regulations.ActionTask || x.Type == regulations.ActionMove ||
		x.Type == regulations.ActionAssign || x.Type == regulations.ActionCopy
	switch {
	case observed:
		rec.Status = funnelwatch.ActionObserved
	case !internal:
		rec.Status, rec.NextAttemptAt = funnelwatch.ActionPending, x.At
	case reason != "":
		rec.Status, rec.LastError = funnelwatch.ActionFailed, reason
	default:
		// Applied: by the event written with it, or already in the log.
		rec.Status = funnelwatch.ActionDone
		done := x.At
		rec.DoneAt = &done
	}
	l.out.actions = append(l.out.actions, rec)
	if e != nil {
		ev := *e
		ev.Seq = 0
		l.out.events = append(l.out.events, ev)
		l.out.eventOf = append(l.out.eventOf, len(l.out.actions)-1)
	}
}

// collect takes the findings that changed into what waits to be written.
func (l *Live) collect() {
	for _, v := range l.r.monitor.TakeChanged() {
		sv := storedViolation(v)
		l.out.violations[sv.ID] = sv
	}
}

// reconcile closes the findings the store has open that the replay of
// the log does not (the engine's view changed since they were written:
// a late event evaluated differently, a changed regulations file). They
// resolve at the engine's clock.
func (l *Live) reconcile() {
	open := map[string]bool{}
	for _, vs := range l.r.monitor.open {
		for _, v := range vs {
			open[violationID(v)] = true
		}
	}
	// The findings of the deals' states: after a full read of the log
	// they were all opened again, and wait in l.out; an engine resumed
	// from its snapshot holds them open from before.
	for _, a := range l.r.aggs {
		if a.mon != nil {
			for _, o := range a.mon.openList() {
				open[violationID(o.v)] = true
			}
		}
	}
	ids := make([]string, 0, len(l.stored))
	for id := range l.stored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if open[id] {
			continue
		}
		if _, written := l.out.violations[id]; written {
			continue
		}
		v := l.stored[id]
		at := l.clock
		v.ResolvedAt = &at
		l.out.violations[id] = v
	}
	l.stored = nil
}

// write stores the findings, the actions, their events and the
// checkpoint in one transaction. On failure everything stays waiting for
// the next Step.
func (l *Live) write(ctx context.Context) error {
	st := funnelwatch.EngineState{Seq: l.seq, Clock: l.clock, ObserveUntil: l.ObserveUntil}
	if l.out.empty() && st == l.state && !(l.forceSnap && l.sinceSnap > 0) {
		return nil
	}
	var snap *funnelwatch.EngineSnapshot
	snapStart := time.Now()
	if l.snapshotDue(snapStart) {
		data, err := l.snapshot()
		switch {
		case errors.Is(err, errNotAtRest):
		case err != nil:
			l.logger().Warn("rules engine snapshot", "err", err)
		default:
			snap = &funnelwatch.EngineSnapshot{Seq: l.seq, Format: snapshotFormat, Digest: l.digest, Data: data}
		}
	}
	vs := make([]*funnelwatch.Violation, 0, len(l.out.violations))
	for _, v := range l.out.violations {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b *funnelwatch.Violation) int { return strings.Compare(a.ID, b.ID) })
	acts, evs, eventOf := l.out.actions, l.out.events, l.out.eventOf
	_, err := l.Ingestor.IngestWith(ctx, evs, func(tx funnelwatch.Tx, res *Result) error {
		for i := range evs {
			a := acts[eventOf[i]]
			if res.Outcomes[i] == Rejected {
				a.Status, a.LastError, a.DoneAt = funnelwatch.ActionFailed, res.Reasons[i], nil
			}
		}
		if err := tx.SaveViolations(ctx, vs...); err != nil {
			return err
		}
		if _, err := tx.InsertActions(ctx, acts...); err != nil {
			return err
		}
		if snap != nil {
			if err := tx.SetEngineSnapshot(ctx, *snap); err != nil {
				return err
			}
		}
		return tx.SetEngineState(ctx, st)
	})
	if err != nil {
		return fmt.Errorf("engine: write findings and actions: %w", err)
	}
	l.state = st
	l.out = outputs{violations: map[string]*funnelwatch.Violation{}}
	l.stats.Written++
	if snap != nil {
		l.sinceSnap, l.forceSnap = 0, false
		l.lastSnap, l.lastSnapCost, l.snapSize = time.Now(), time.Since(snapStart), len(snap.Data)
		l.stats.Snapshots++
	}
	if l.OnWrite != nil && len(acts) > 0 {
		l.OnWrite()
	}
	if l.OnFindings != nil && len(vs) > 0 {
		l.OnFindings(vs)
	}
	return nil
}

// snapshotDue reports whether the write begun at now stores a snapshot.
// The wall clock only paces them: what the engine finds and does does
// not depend on when its state was stored.
func (l *Live) snapshotDue(now time.Time) bool {
	if l.SnapshotEvery < 0 || l.sinceSnap == 0 {
		return false
	}
	if l.forceSnap {
		return true
	}
	every := int64(l.SnapshotEvery)
	if every == 0 {
		every = 20000
	}
	return l.sinceSnap >= every && now.Sub(l.lastSnap) >= snapshotPace*l.lastSnapCost
}

// snapshotPace is how many times as long as the last snapshot took must
// pass before the next: storing one holds the engine (and, for the insert
// of its parts, the store's writer), and every event arriving meanwhile
// waits. At 200 that is at most 0.5 % of the time, so that the 99th
// percentile of event → finding latency does not see them (at 20 it was
// 5 %: 0.5 s every 20 s with 20,000 deals live, p99 324 ms over a
// minute at 1,000 events/s; docs/performance.md, session 8). The price:
// a restart reads the log written since the last one, at most 200 times
// its cost (at 1,000,000 deals, a snapshot of 3.3 s: 11 minutes of log).
const snapshotPace = 200

// StepAndSnapshot is Step, and stores a snapshot of the engine's state
// with its checkpoint if it evaluated anything since the last one, so
// that the next start reads only the log after it. A graceful shutdown
// calls it.
func (l *Live) StepAndSnapshot(ctx context.Context) error {
	l.mu.Lock()
	l.forceSnap = true
	l.mu.Unlock()
	return l.Step(ctx)
}

// NextDue returns when the engine next has something to check.
func (l *Live) NextDue() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r == nil {
		return time.Time{}, false
	}
	tm, okM := l.r.monitor.NextTimer()
	tf, okF := l.r.auto.NextFiring()
	switch {
	case okM && okF:
		if tf.Before(tm) {
			return tf, true
		}
		return tm, true
	case okM:
		return tm, true
	}
	return tf, okF
}

// Run steps the engine whenever the log grows, a check falls due, or
// Poll passes, until ctx ends. A failed step (the store unreachable) is
// reported to onError and tried again; nothing is lost, since the log
// and the checkpoint are the engine's memory.
func (l *Live) Run(ctx context.Context, onError func(error)) error {
	poll := l.Poll
	if poll <= 0 {
		poll = time.Second
	}
	wake := l.wakeChan()
	failures := 0
	for {
		wait := poll
		if err := l.Step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if onError != nil {
				onError(err)
			}
			wait = min(poll*time.Duration(failures), 30*time.Second)
		} else {
			failures = 0
			if next, ok := l.NextDue(); ok {
				if d := next.Sub(l.now()); d < wait {
					wait = max(d, time.Millisecond)
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// violationID names a finding by what it is about and when it opened, so
// that evaluating the same log again finds the same row.
func violationID(v *Violation) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%d", v.Rule, v.DealID, v.TaskID, v.CallID, v.Metric, v.User, v.OpenedAt.UnixNano())
	return "v" + hex.EncodeToString(h.Sum(nil)[:12])
}

// storedViolation is the finding as the store keeps it.
func storedViolation(v *Violation) *funnelwatch.Violation {
	sv := &funnelwatch.Violation{ID: violationID(v), Rule: v.Rule, Severity: funnelwatch.Severity(v.Severity), Metric: v.Metric,
		DealID: v.DealID, TaskID: v.TaskID, CallID: v.CallID, User: v.User, Pipeline: v.Pipeline, Stage: v.Stage,
		OpenedAt: v.OpenedAt, Message: funnelwatch.Text(v.Text.Message), Recommendation: funnelwatch.Text(v.Text.Recommendation),
		Amount: v.Amount, WinRate: v.WinRate, MoneyAtRisk: v.MoneyAtRisk()}
	if v.ResolvedAt != nil {
		at := *v.ResolvedAt
		sv.ResolvedAt = &at
	}
	if !v.Evidence.IsZero() {
		sv.Evidence, _ = json.Marshal(v.Evidence)
	}
	return sv
}
