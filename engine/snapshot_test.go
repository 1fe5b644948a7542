package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// snapRig is a live engine on its own SQLite store, fed the log in chunks
// on a wall clock moved by hand; resume restarts it from the store before
// every step, as a server stopped and started again would.
type snapRig struct {
	t      *testing.T
	st     funnelwatch.Store
	regs   *regulations.Regulations
	until  time.Time
	clock  time.Time
	every  int
	freeze int // the engine's freezeEvery
	in     *Ingestor
	live   *Live
	starts []int64 // the seq each restart resumed from
}

func newSnapRig(t *testing.T, regs *regulations.Regulations, until time.Time, every, freeze int) *snapRig {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.EnsureWorkspace(context.Background(), "w", regs.Company); err != nil {
		t.Fatal(err)
	}
	r := &snapRig{t: t, st: st, regs: regs, until: until, every: every, freeze: freeze}
	r.start()
	return r
}

// start makes a new Ingestor and engine over the store.
func (r *snapRig) start() {
	r.in = &Ingestor{Store: r.st, Workspace: "w", Funnel: &r.regs.Funnel}
	r.live = &Live{Store: r.st, Workspace: "w", Regs: r.regs, Ingestor: r.in, ObserveUntil: r.until,
		SnapshotEvery: r.every, Now: func() time.Time { return r.clock }, freezeEvery: r.freeze}
}

func (r *snapRig) ingest(events []funnelwatch.Event) {
	r.t.Helper()
	res, err := r.in.Ingest(context.Background(), events)
	if err != nil {
		r.t.Fatal(err)
	}
	for i, reason := range res.Reasons {
		if reason != "" {
			r.t.Fatalf("event %s rejected: %s", events[i].ID, reason)
		}
	}
}

// step evaluates what the log gained; with restart, the engine is first
// stopped as a server stops (a last step that stores a snapshot) and a
// new one started on the same store.
func (r *snapRig) step(restart bool) {
	r.t.Helper()
	ctx := context.Background()
	if restart {
		if err := r.live.StepAndSnapshot(ctx); err != nil {
			r.t.Fatal(err)
		}
		if err := r.in.Flush(ctx); err != nil {
			r.t.Fatal(err)
		}
		r.start()
	}
	if err := r.live.Step(ctx); err != nil {
		r.t.Fatal(err)
	}
	if restart {
		r.starts = append(r.starts, r.live.Stats().Restored)
	}
}

// stored is everything the engine wrote, as comparable text.
func (r *snapRig) stored() (violations, actions, events []string) {
	r.t.Helper()
	ctx := context.Background()
	err := r.st.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		vs, err := tx.Violations(ctx, funnelwatch.ViolationFilter{})
		if err != nil {
			return err
		}
		for _, v := range vs {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			violations = append(violations, string(b))
		}
		as, err := tx.Actions(ctx, funnelwatch.ActionFilter{})
		if err != nil {
			return err
		}
		for _, a := range as {
			actions = append(actions, a.Key+" "+string(a.Status)+" "+a.LastError+" "+string(a.Payload))
		}
		es, err := tx.Events(ctx, funnelwatch.EventFilter{BySeq: true})
		if err != nil {
			return err
		}
		for _, e := range es {
			// As the log holds it, less the moment it was written.
			e.ReceivedAt, e.Raw = time.Time{}, nil
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			events = append(events, string(b))
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	slices.Sort(violations)
	slices.Sort(actions)
	return violations, actions, events
}

func demoCompany(t testing.TB, days int) (*regulations.Regulations, []funnelwatch.Event, time.Time) {
	t.Helper()
	end := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	co, err := demo.Generate(demo.Options{Seed: 1, End: end, Days: days})
	if err != nil {
		t.Fatal(err)
	}
	regs, err := regulations.Parse(co.Regulations)
	if err != nil {
		t.Fatal(err)
	}
	return regs, co.Events, end
}

// An engine restarted from its snapshot before every step, and one that
// freezes its closed deals whenever it can, find, do and write exactly
// what one that never stopped and never froze a deal does: the demo
// company's history in chunks, the wall clock half an hour past each
// (its deadlines fire between them, and the next chunk's first events
// arrive late); then three days past the recorded history, half a day
// a step, when the robots' actions are applied (their events come back
// through the log). The resumed engine freezes too, so its snapshots
// carry frozen deals.
func TestEngineResumedFromSnapshotsDoesWhatTheRunningOneDoes(t *testing.T) {
	days := 45
	if testing.Short() {
		days = 15
	}
	regs, events, end := demoCompany(t, days)
	running := newSnapRig(t, regs, end, -1, -1)
	resumed := newSnapRig(t, regs, end, 1, 1)
	frozen := newSnapRig(t, regs, end, -1, 1)
	rigs := []*snapRig{running, resumed, frozen}
	const chunks = 24
	size := (len(events) + chunks - 1) / chunks
	maxFrozen := 0
	for i := 0; i < len(events); i += size {
		chunk := events[i:min(i+size, len(events))]
		clock := chunk[len(chunk)-1].At.Add(30 * time.Minute)
		for _, r := range rigs {
			r.clock = clock
			r.ingest(chunk)
			r.step(r == resumed && i > 0)
		}
		maxFrozen = max(maxFrozen, frozen.live.Stats().Frozen)
	}
	// Three days on: the deadlines left come due, and the robots act.
	for range 6 {
		for _, r := range rigs {
			r.clock = r.clock.Add(12 * time.Hour)
			r.step(r == resumed)
		}
	}
	st := frozen.live.Stats()
	t.Logf("freezing engine: %d deals held, at most %d frozen, %d thawed", st.Deals, maxFrozen, st.Thawed)
	if maxFrozen == 0 || st.Thawed == 0 {
		t.Fatalf("nothing to compare: %d deals frozen at most, %d thawed", maxFrozen, st.Thawed)
	}
	if n := running.live.Stats().Frozen; n != 0 {
		t.Fatalf("the engine that never freezes holds %d frozen deals", n)
	}
	for i, seq := range resumed.starts {
		if seq == 0 {
			t.Fatalf("restart %d read the whole log: no snapshot was used", i+1)
		}
	}
	if n := running.live.Stats().Restored; n != 0 {
		t.Fatalf("the engine that never stopped resumed from seq %d", n)
	}
	wantV, wantA, wantE := running.stored()
	if len(wantV) == 0 || len(wantA) == 0 {
		t.Fatalf("nothing to compare: %d findings, %d actions", len(wantV), len(wantA))
	}
	t.Logf("%d events, %d restarts; %d findings, %d actions, %d events in the log", len(events), len(resumed.starts), len(wantV), len(wantA), len(wantE))
	for _, r := range []*snapRig{resumed, frozen} {
		gotV, gotA, gotE := r.stored()
		diff(t, "findings", gotV, wantV)
		diff(t, "actions", gotA, wantA)
		diff(t, "log", gotE, wantE)
	}
}

func diff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: %d resumed, %d running", what, len(got), len(want))
	shown := 0
	for i := 0; i < max(len(got), len(want)) && shown < 5; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("first differences at %d:\n resumed %s\n running %s", i, g, w)
			shown++
		}
	}
}

// A snapshot read back and taken again says the same: every record the
// engine keeps comes back (compared as JSON: times by their instant and
// offset).
func TestSnapshotReadBackIsTheSame(t *testing.T) {
	regs, events, _ := demoCompany(t, 20)
	r := newSnapRig(t, regs, events[len(events)/3].At, -1, 0)
	r.clock = events[len(events)*2/3].At
	r.ingest(events[:len(events)*2/3])
	r.step(false)
	// What the demo's history leaves empty, set by hand so that it is
	// read back too: the anomaly rule's facts, a late event, a
	// robot's firing with the value a field changed to, every kind of
	// activity a deal remembers.
	m, a := r.live.r.monitor, r.live.r.auto
	at := r.clock.Add(-time.Hour)
	m.calls = append(m.calls, callFact{"roman", at, 42.5})
	m.wins = append(m.wins, winFact{"olga", at, 12.25, 99000})
	if m.closings == nil {
		m.closings = map[string][]closing{}
	}
	m.closings["pavel"] = append(m.closings["pavel"], closing{"D1", at})
	m.Late("D-late", at)
	m.anomalyStarted = true
	a.push(at.Add(3*time.Hour), &firing{auto: a.autos[0], deal: "D-any", task: "T-any", mark: at,
		by: &firingCause{cause: "event:e1", value: "new value"}})
	for _, ag := range r.live.r.aggs {
		if ds := ag.mon; ds != nil && ds.act.more == nil {
			ds.act.supervised = true
			x := ds.act.x()
			x.awaitComment = []pendingCall{{"C1", at}}
			x.awaitUpdate = []pendingCall{{"C2", at.Add(time.Minute)}}
			x.reschedules = []taskCount{{"T1", 3}}
			x.bigSince = at
			break
		}
	}
	first, err := r.live.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	other := &Live{Store: r.st, Workspace: "w", Regs: regs, ObserveUntil: r.until}
	other.r = other.newReplay()
	if err := other.restore(first); err != nil {
		t.Fatal(err)
	}
	second, err := other.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("the snapshot read back differs: %d and %d bytes", len(first), len(second))
	}
	// Not a thin one: deals, checks, firings and findings were in it.
	if len(other.r.aggs) == 0 || other.r.monitor.timers.len() == 0 || other.r.auto.queue.len() == 0 || other.r.monitor.OpenCount() == 0 {
		t.Errorf("a thin snapshot: %d deals, %d checks, %d firings, %d open findings", len(other.r.aggs),
			other.r.monitor.timers.len(), other.r.auto.queue.len(), other.r.monitor.OpenCount())
	}
	// Cut anywhere, it is refused, never half read.
	for _, n := range []int{0, 10, len(first) / 3, len(first) / 2, len(first) - 1} {
		cut := &Live{Store: r.st, Workspace: "w", Regs: regs, ObserveUntil: r.until}
		cut.r = cut.newReplay()
		if err := cut.restore(first[:n]); err == nil {
			t.Errorf("a snapshot cut at %d of %d bytes was read", n, len(first))
		}
	}
}

// A snapshot is not used under other regulations, nor one that cannot be
// read: the engine reads the whole log and finds what it would have.
func TestSnapshotOfOtherRegulationsIsNotUsed(t *testing.T) {
	regs, events, _ := demoCompany(t, 10)
	r := newSnapRig(t, regs, time.Time{}, 1, 0)
	r.clock = events[len(events)-1].At
	r.ingest(events)
	r.step(false)
	if err := r.live.StepAndSnapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.live.Stats().Snapshots == 0 {
		t.Fatal("no snapshot written")
	}
	wantV, wantA, _ := r.stored()

	// The same regulations: resumed.
	r.start()
	r.step(false)
	if r.live.Stats().Restored == 0 {
		t.Fatal("the snapshot of the same regulations was not used")
	}
	// A damaged snapshot: the whole log, and the same findings.
	ctx := context.Background()
	err := r.st.Update(ctx, "w", func(tx funnelwatch.Tx) error {
		s, err := tx.EngineSnapshot(ctx)
		if err != nil {
			return err
		}
		s.Data = s.Data[:len(s.Data)/2]
		s.Digest, _ = RegulationsDigest(regs)
		return tx.SetEngineSnapshot(ctx, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	r.start()
	r.step(false)
	if r.live.Stats().Restored != 0 {
		t.Error("a damaged snapshot was used")
	}
	gotV, gotA, _ := r.stored()
	diff(t, "findings", gotV, wantV)
	diff(t, "actions", gotA, wantA)
	// A snapshot that cannot be read (the store says so): the same.
	r.start()
	r.live.Store = unreadableSnapshot{r.st}
	r.step(false)
	if r.live.Stats().Restored != 0 {
		t.Error("a snapshot the store could not read was used")
	}
	gotV, gotA, _ = r.stored()
	diff(t, "findings", gotV, wantV)
	diff(t, "actions", gotA, wantA)
	// Other regulations (a rule's grace changed): the whole log.
	changed, err := regulations.Parse(bytes.Replace(mustDemoRegs(t), []byte("grace: 10m"), []byte("grace: 25m"), 1))
	if err != nil {
		t.Fatal(err)
	}
	r.regs = changed // last: it writes findings of its own
	r.start()
	r.step(false)
	if r.live.Stats().Restored != 0 {
		t.Error("a snapshot of other regulations was used")
	}
}

// unreadableSnapshot is a store whose snapshot cannot be read.
type unreadableSnapshot struct{ funnelwatch.Store }

type unreadableSnapshotTx struct{ funnelwatch.ReadTx }

func (s unreadableSnapshot) View(ctx context.Context, ws string, fn func(funnelwatch.ReadTx) error) error {
	return s.Store.View(ctx, ws, func(tx funnelwatch.ReadTx) error { return fn(unreadableSnapshotTx{tx}) })
}

func (unreadableSnapshotTx) EngineSnapshot(context.Context) (funnelwatch.EngineSnapshot, error) {
	return funnelwatch.EngineSnapshot{}, errors.New("engine snapshot: part 3 does not follow the parts before it")
}

func mustDemoRegs(t *testing.T) []byte {
	t.Helper()
	co, err := demo.Generate(demo.Options{Seed: 1, End: time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC), Days: 10})
	if err != nil {
		t.Fatal(err)
	}
	return co.Regulations
}

// FuzzSnapshotRestore: whatever bytes the store gives back as a
// snapshot, reading them returns an error or a state, never a panic; a
// state read writes a snapshot that reads back and writes again the same
// (the seed, a real one, the same as it was read).
func FuzzSnapshotRestore(f *testing.F) {
	// Four days of the demo company, evaluated up to its last event.
	regs, events, _ := demoCompany(f, 4)
	l := &Live{Workspace: "w", Regs: regs}
	l.r = l.newReplay()
	l.out.violations = map[string]*funnelwatch.Violation{}
	for i := range events {
		if err := l.feed(context.Background(), &events[i]); err != nil {
			f.Fatal(err)
		}
	}
	l.tick(events[len(events)-1].At)
	l.collect()
	seed, err := l.snapshot()
	if err != nil {
		f.Fatal(err)
	}
	if l.r.monitor.OpenCount() == 0 || l.r.auto.queue.len() == 0 {
		f.Fatalf("a thin seed: %d open findings, %d firings", l.r.monitor.OpenCount(), l.r.auto.queue.len())
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := &Live{Workspace: "w", Regs: regs}
		x.r = x.newReplay()
		if x.restore(data) != nil {
			return
		}
		again, err := x.snapshot()
		if err != nil {
			t.Fatalf("a state read does not write again: %v", err)
		}
		if bytes.Equal(data, seed) && !bytes.Equal(again, seed) {
			t.Fatal("the seed read back differs")
		}
		y := &Live{Workspace: "w", Regs: regs}
		y.r = y.newReplay()
		if err := y.restore(again); err != nil {
			t.Fatalf("a snapshot written from a state read is refused: %v", err)
		}
		if third, _ := y.snapshot(); !bytes.Equal(third, again) {
			t.Fatal("written, read and written again, a snapshot changes")
		}
	})
}

// A periodic snapshot waits for its events and for snapshotPace times as
// long as the last one took, so that snapshots hold the engine for at
// most 0.5 % of its time; a graceful stop's is never held back.
func TestSnapshotsArePaced(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	l := &Live{SnapshotEvery: 100, lastSnap: at, lastSnapCost: 40 * time.Millisecond}
	for _, c := range []struct {
		events int64
		after  time.Duration
		want   bool
	}{
		{0, time.Hour, false},
		{99, time.Hour, false},
		{100, 7999 * time.Millisecond, false},
		{100, 8 * time.Second, true},
		{5000, 2 * time.Second, false},
	} {
		l.sinceSnap = c.events
		if got := l.snapshotDue(at.Add(c.after)); got != c.want {
			t.Errorf("%d events and %v after a snapshot of 40ms: due %v, want %v", c.events, c.after, got, c.want)
		}
	}
	l.sinceSnap, l.forceSnap = 1, true
	if !l.snapshotDue(at) {
		t.Error("the snapshot of a graceful stop was held back")
	}
	l.SnapshotEvery = -1
	if l.snapshotDue(at.Add(time.Hour)) {
		t.Error("a snapshot is due with snapshots off")
	}
}
