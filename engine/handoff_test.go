package engine

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// The hand-off from the Ingestor to the engine replaces a read of the log:
// these tests hold it to exactly what that read returns, and check that
// the engine takes every event once, in seq order, whatever is handed
// over late, twice, out of order or not at all.

func handoffRegs(t *testing.T) *regulations.Regulations {
	t.Helper()
	regs, err := regulations.ParseFile("../testdata/regulations.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return regs
}

// hardStore fails the next transaction that inserts events, after the
// insert: nothing of the batch is committed.
type hardStore struct {
	funnelwatch.Store
	fail bool
}

var errHandoffDisk = errors.New("disk on fire")

func (s *hardStore) Update(ctx context.Context, ws string, fn func(funnelwatch.Tx) error) error {
	return s.Store.Update(ctx, ws, func(tx funnelwatch.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if s.fail {
			s.fail = false
			return errHandoffDisk
		}
		return nil
	})
}

func openHandoffStore(t *testing.T, workspaces ...string) funnelwatch.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, ws := range workspaces {
		if err := st.EnsureWorkspace(context.Background(), ws, ws); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// decoded decodes events as the API does: each keeps its JSON (Raw).
func decoded(t *testing.T, lines ...string) []funnelwatch.Event {
	t.Helper()
	out := make([]funnelwatch.Event, 0, len(lines))
	for _, l := range lines {
		e, err := funnelwatch.DecodeEvent([]byte(l))
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

// readLog returns the workspace's log after seq, by seq, as the engine
// reads it.
func readLog(t *testing.T, st funnelwatch.Store, ws string, after int64) []funnelwatch.Event {
	t.Helper()
	var es []funnelwatch.Event
	err := st.View(context.Background(), ws, func(tx funnelwatch.ReadTx) error {
		var err error
		es, err = tx.Events(context.Background(), funnelwatch.EventFilter{AfterSeq: after, BySeq: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// asLogged is what the engine takes of a handed batch, every event
// decoded (take skips decoding only the engine's own echoes).
func asLogged(t *testing.T, c committed) []funnelwatch.Event {
	t.Helper()
	out := make([]funnelwatch.Event, len(c.events))
	for i := range c.events {
		out[i] = c.events[i]
		if c.stored != nil && c.stored[i] != nil {
			d, err := c.decode(i)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = d
		}
	}
	return out
}

// Every handed batch is, event for event and field for field, what a read
// of the log after the batch's predecessor returns: events decoded from
// the API's JSON (a pipeline-qualified stage the checks shorten, a call
// placed by its phone, task events placed by their task) and events made
// in code (stored as their JSON, read back with numbers as float64),
// with duplicates and rejections in the batch; a batch whose seqs another
// workspace's rows interleave is not handed over.
func TestHandoffIsWhatTheLogReads(t *testing.T) {
	ctx := context.Background()
	regs := handoffRegs(t)
	st := openHandoffStore(t, "w", "other")
	in := &Ingestor{Store: st, Workspace: "w", Funnel: &regs.Funnel}
	var got []committed
	in.handTo(func(c committed) { got = append(got, c) })
	other := &Ingestor{Store: st, Workspace: "other", Funnel: &regs.Funnel}

	check := func(c committed) {
		t.Helper()
		log := readLog(t, st, "w", c.after)
		if len(log) < len(c.events) {
			t.Fatalf("log after %d has %d events, handed %d", c.after, len(log), len(c.events))
		}
		log = log[:len(c.events)]
		handed := asLogged(t, c)
		for i := range handed {
			if !reflect.DeepEqual(handed[i], log[i]) {
				t.Errorf("event %d of the batch after seq %d:\n handed %+v\n log    %+v", i, c.after, handed[i], log[i])
			}
		}
	}
	ingest := func(events []funnelwatch.Event, wantHanded bool) {
		t.Helper()
		n := len(got)
		if _, err := in.Ingest(ctx, events); err != nil {
			t.Fatal(err)
		}
		switch {
		case wantHanded && len(got) != n+1:
			t.Fatalf("batch not handed over")
		case !wantHanded && len(got) != n:
			t.Fatalf("batch handed over: %+v", got[n])
		case wantHanded:
			check(got[n])
		}
	}

	ingest(decoded(t,
		`{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"sales/target","responsible":"roman","amount":1500.5,"contact":{"name":"Ivan","phone":"+7 (903) 123-45-67"},"fields":{"budget":12,"city":"Kazan","tags":["a","b"]}}}`,
		`{"id":"e2","type":"task.created","at":"2026-11-02T10:01:00+03:00","task":{"id":"T1","deal_id":"D1","due":"2026-11-02T12:00:00+03:00","text":"call"}}`,
		`{"id":"e3",
		  "type":"call","at":"2026-11-02T10:02:00+03:00","call":{"id":"C1","user":"roman","direction":"out","phone":"8 903 123 45 67","duration_s":40,"answered":true}}`,
		`{"id":"e4","type":"deal.updated","at":"2026-11-02T10:03:00+03:00","deal_id":"D1","amount":2000,"fields":{"city":null,"rooms":3}}`,
		`{"id":"e1","type":"deal.created","at":"2026-11-02T10:04:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`,
		`{"id":"e5","type":"deal.stage_changed","at":"2026-11-02T10:05:00+03:00","deal_id":"D404","to_stage":"contact"}`,
		`{"id":"e6","type":"note.added","at":"2026-11-02T10:06:00+03:00","note":{"id":"N1","deal_id":"D1","author":"roman","text":"hi"}}`,
	), true)

	due := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	amount := 99.0
	ingest([]funnelwatch.Event{
		{ID: "act:k1", Type: funnelwatch.EventTaskCreated, At: time.Date(2026, 11, 2, 7, 10, 0, 0, time.UTC), Actor: "rule:x",
			DealID: "D1", Task: &funnelwatch.TaskPayload{ID: "act:k1", DealID: "D1", Assignee: "sergey", Due: &due, Kind: "control"}},
		{ID: "u1", Type: funnelwatch.EventDealUpdated, At: time.Date(2026, 11, 2, 7, 11, 0, 0, time.UTC), DealID: "D1",
			Amount: &amount, Fields: map[string]any{"n": 3, "s": "x"}},
		{ID: "u2", Type: funnelwatch.EventTaskCompleted, At: time.Date(2026, 11, 2, 7, 12, 0, 0, time.UTC), TaskID: "T1", Result: "done"},
		{ID: "u3", Type: funnelwatch.EventTaskCompleted, At: time.Date(2026, 11, 2, 7, 13, 0, 0, time.UTC), TaskID: "T404"},
		// Late: older than the deal's latest event.
		{ID: "u4", Type: funnelwatch.EventDealResponsibleChanged, At: time.Date(2026, 11, 2, 7, 4, 0, 0, time.UTC), DealID: "D1", To: "olga"},
	}, true)

	// Another workspace's rows between two batches: the next batch's seqs
	// do not follow this workspace's last one, so it is not handed over.
	if _, err := other.Ingest(ctx, decoded(t,
		`{"id":"o1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`)); err != nil {
		t.Fatal(err)
	}
	ingest(decoded(t, `{"id":"e7","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"contact"}`), false)
	// Nor a batch with nothing accepted.
	ingest(decoded(t, `{"id":"e7","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"contact"}`), false)
	ingest(decoded(t, `{"id":"e8","type":"deal.stage_changed","at":"2026-11-02T11:30:00+03:00","deal_id":"D1","to_stage":"lost","loss_reason":"price"}`), true)

	// The batches handed over, with the one that was not read from the
	// log, are the whole log, once each, in seq order.
	var seqs []int64
	for _, c := range got {
		for _, e := range c.events {
			seqs = append(seqs, e.Seq)
		}
	}
	var logSeqs []int64
	for _, e := range readLog(t, st, "w", 0) {
		if e.ID != "e7" {
			logSeqs = append(logSeqs, e.Seq)
		}
	}
	if !slices.Equal(seqs, logSeqs) {
		t.Errorf("handed seqs %v, log (but e7) %v", seqs, logSeqs)
	}
}

// A batch whose transaction fails is not handed over; the batch retried
// is, starting where the log ended.
func TestHandoffFollowsOnlyCommits(t *testing.T) {
	ctx := context.Background()
	regs := handoffRegs(t)
	st := &hardStore{Store: openHandoffStore(t, "w")}
	in := &Ingestor{Store: st, Workspace: "w", Funnel: &regs.Funnel}
	var got []committed
	in.handTo(func(c committed) { got = append(got, c) })
	first := decoded(t, `{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`)
	if _, err := in.Ingest(ctx, first); err != nil {
		t.Fatal(err)
	}
	next := decoded(t, `{"id":"e2","type":"deal.updated","at":"2026-11-02T10:01:00+03:00","deal_id":"D1","amount":5}`)
	st.fail = true
	if _, err := in.Ingest(ctx, next); !errors.Is(err, errHandoffDisk) {
		t.Fatalf("failing commit: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("%d batches handed over after a failed commit, want 1", len(got))
	}
	if _, err := in.Ingest(ctx, next); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].after != got[0].events[0].Seq || len(got[1].events) != 1 {
		t.Fatalf("retried batch: %+v", got)
	}
	log := readLog(t, st, "w", got[1].after)
	if len(log) != 1 || !reflect.DeepEqual(log[0], got[1].events[0]) {
		t.Errorf("retried batch handed %+v, log %+v", got[1].events, log)
	}
}

// handoffRun drives a live engine through batches and returns what it
// stored, with its gauges; between batches, meddle may tamper with what
// waits to be taken.
type handoffRun struct {
	t     *testing.T
	st    funnelwatch.Store
	in    *Ingestor
	live  *Live
	clock time.Time
}

func newHandoffRun(t *testing.T, regs *regulations.Regulations, handoff bool) *handoffRun {
	st := openHandoffStore(t, "w")
	in := &Ingestor{Store: st, Workspace: "w", Funnel: &regs.Funnel}
	r := &handoffRun{t: t, st: st, in: in}
	r.live = &Live{Store: st, Workspace: "w", Regs: regs, Ingestor: in, Now: func() time.Time { return r.clock }}
	r.clock = time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	r.step()
	if !handoff {
		in.handTo(nil)
	}
	return r
}

func (r *handoffRun) ingest(events []funnelwatch.Event) {
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

func (r *handoffRun) step() {
	r.t.Helper()
	if err := r.live.Step(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// stored is everything the engine wrote, as comparable text.
func (r *handoffRun) stored() (violations, actions []string, events []string) {
	r.t.Helper()
	err := r.st.View(context.Background(), "w", func(tx funnelwatch.ReadTx) error {
		vs, err := tx.Violations(context.Background(), funnelwatch.ViolationFilter{})
		if err != nil {
			return err
		}
		for _, v := range vs {
			res := ""
			if v.ResolvedAt != nil {
				res = v.ResolvedAt.UTC().Format(time.RFC3339Nano)
			}
			violations = append(violations, v.ID+" "+v.Rule+" "+v.DealID+" "+v.TaskID+" "+v.Stage+" "+v.User+" "+v.OpenedAt.UTC().Format(time.RFC3339Nano)+" "+res)
		}
		as, err := tx.Actions(context.Background(), funnelwatch.ActionFilter{})
		if err != nil {
			return err
		}
		for _, a := range as {
			actions = append(actions, a.Key+" "+string(a.Status)+" "+string(a.Payload))
		}
		es, err := tx.Events(context.Background(), funnelwatch.EventFilter{BySeq: true})
		for _, e := range es {
			events = append(events, e.ID)
		}
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	slices.Sort(violations)
	slices.Sort(actions)
	return violations, actions, events
}

// batchOf returns the index of the batch that holds the event, -1 if
// none does.
func batchOf(q []committed, id string) int {
	return slices.IndexFunc(q, func(c committed) bool {
		return slices.ContainsFunc(c.events, func(e funnelwatch.Event) bool { return e.ID == id })
	})
}

// handoffBatches is a day of two deals in batches, with a late event, an
// overdue task (which makes robot tasks: the engine's own events come
// back to it) and a loss (a check task).
func handoffBatches(t *testing.T) [][]funnelwatch.Event {
	return [][]funnelwatch.Event{
		decoded(t,
			`{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`,
			`{"id":"e2","type":"task.created","at":"2026-11-02T10:01:00+03:00","task":{"id":"T1","deal_id":"D1","due":"2026-11-02T10:30:00+03:00","text":"call"}}`),
		decoded(t,
			`{"id":"e3","type":"deal.created","at":"2026-11-02T10:20:00+03:00","deal":{"id":"D2","pipeline":"sales","responsible":"olga"}}`,
			`{"id":"e4","type":"call","at":"2026-11-02T10:25:00+03:00","call":{"id":"C1","user":"roman","direction":"in","phone":"+79031234567","duration_s":0,"answered":false}}`),
		decoded(t,
			`{"id":"e5","type":"deal.stage_changed","at":"2026-11-02T12:00:00+03:00","deal_id":"D1","to_stage":"contact"}`),
		decoded(t,
			// Late: before the engine's clock and D2's latest event.
			`{"id":"e6","type":"task.created","at":"2026-11-02T10:22:00+03:00","task":{"id":"T2","deal_id":"D2","due":"2026-11-02T11:00:00+03:00","text":"meet"}}`),
		decoded(t,
			`{"id":"e7","type":"deal.stage_changed","at":"2026-11-02T13:00:00+03:00","deal_id":"D2","to_stage":"lost","loss_reason":"price"}`),
		decoded(t,
			`{"id":"e8","type":"task.completed","at":"2026-11-02T13:30:00+03:00","task_id":"T1","result":"ok"}`),
		decoded(t,
			`{"id":"e9","type":"deal.updated","at":"2026-11-02T14:00:00+03:00","deal_id":"D1","amount":700}`),
	}
}

// The engine takes each event once, in seq order, whether a batch is
// handed over, lost (dropped: the engine reads the log), handed over
// twice, or out of order — and finds, acts and writes exactly what it
// does reading every batch from the log, stepping at the same times.
func TestLiveTakesEveryEventOnceInSeqOrder(t *testing.T) {
	regs := handoffRegs(t)
	batches := handoffBatches(t)
	// run ingests the batches, stepping the engine after each but those
	// in skip; meddle tampers with what waits to be taken before a step.
	run := func(handoff bool, skip map[int]bool, meddle func(r *handoffRun, i int)) *handoffRun {
		r := newHandoffRun(t, regs, handoff)
		for i, b := range batches {
			r.clock = b[0].At.Add(time.Minute)
			r.ingest(b)
			if skip[i] {
				continue
			}
			if meddle != nil {
				meddle(r, i)
			}
			r.step()
		}
		r.clock = time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
		r.step()
		return r
	}
	withQueue := func(f func(r *handoffRun, q []committed) []committed) func(r *handoffRun, i int) {
		return func(r *handoffRun, i int) {
			r.live.hmu.Lock()
			defer r.live.hmu.Unlock()
			r.live.handed = f(r, r.live.handed)
		}
	}
	cases := []struct {
		name   string
		skip   map[int]bool
		meddle func(r *handoffRun, i int)
		handed int64 // at least this many events taken from the hand-off
	}{
		{"every batch handed over", nil, nil, 9},
		{"two batches a step", map[int]bool{1: true, 3: true}, nil, 9},
		{"a batch lost: it and the next read from the log", map[int]bool{2: true}, withQueue(func(r *handoffRun, q []committed) []committed {
			// Batch 2's dropped, as when too many wait; batch 3's stays.
			if i := batchOf(q, "e5"); i >= 0 {
				q = slices.Delete(q, i, i+1)
			}
			return q
		}), 1},
		{"a batch handed over twice", nil, withQueue(func(r *handoffRun, q []committed) []committed {
			if len(q) > 0 {
				q = append(q, q[len(q)-1])
			}
			return q
		}), 9},
		{"batches handed over out of order", map[int]bool{3: true}, withQueue(func(r *handoffRun, q []committed) []committed {
			// Batch 4's before batch 3's.
			if i, j := batchOf(q, "e6"), batchOf(q, "e7"); i >= 0 && j >= 0 {
				q[i], q[j] = q[j], q[i]
			}
			return q
		}), 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := run(false, c.skip, nil)
			bs := base.live.Stats()
			if bs.Handed != 0 {
				t.Fatalf("the hand-off off, yet %d events handed", bs.Handed)
			}
			wantV, wantA, wantE := base.stored()
			if len(wantV) == 0 || len(wantA) == 0 || bs.Late == 0 {
				t.Fatalf("the day found %d findings, %d actions, %d late events: it tests nothing", len(wantV), len(wantA), bs.Late)
			}
			r := run(true, c.skip, c.meddle)
			s := r.live.Stats()
			if s.Handed < c.handed {
				t.Errorf("handed %d events, want at least %d", s.Handed, c.handed)
			}
			if s.Events != bs.Events || s.Late != bs.Late || s.Actions != bs.Actions {
				t.Errorf("evaluated %d events (%d late), %d actions; from the log %d (%d late), %d",
					s.Events, s.Late, s.Actions, bs.Events, bs.Late, bs.Actions)
			}
			v, a, e := r.stored()
			if !slices.Equal(v, wantV) {
				t.Errorf("findings\n got  %v\n want %v", v, wantV)
			}
			if !slices.Equal(a, wantA) {
				t.Errorf("actions\n got  %v\n want %v", a, wantA)
			}
			if !slices.Equal(e, wantE) {
				t.Errorf("log\n got  %v\n want %v", e, wantE)
			}
		})
	}
}
