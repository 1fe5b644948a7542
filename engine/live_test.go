package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/postgres"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// clock is a wall clock a test moves by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// liveRig is a live engine on a real SQLite store.
type liveRig struct {
	ws    string
	store *sqliteStore
	regs  *regulations.Regulations
	in    *engine.Ingestor
	live  *engine.Live
	clock *clock
	// restart: before every step the engine is stopped as a server
	// stops (its last step stores a snapshot) and a new one started on
	// the store, which must resume from that snapshot.
	restart  bool
	restarts int
}

type sqliteStore = funnelwatch.Store

func newLiveRig(t *testing.T, regs *regulations.Regulations, path string, now time.Time) *liveRig {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newLiveRigOn(t, st, "ws", regs, now)
}

// newLiveRigOn sets the engine up on a store's workspace.
func newLiveRigOn(t *testing.T, st funnelwatch.Store, ws string, regs *regulations.Regulations, now time.Time) *liveRig {
	t.Helper()
	if err := st.EnsureWorkspace(context.Background(), ws, regs.Company); err != nil {
		t.Fatal(err)
	}
	s := st
	c := &clock{now}
	in := &engine.Ingestor{Store: st, Workspace: ws, Funnel: &regs.Funnel}
	live := &engine.Live{Store: st, Workspace: ws, Regs: regs, Ingestor: in, Now: c.Now}
	return &liveRig{ws: ws, store: &s, regs: regs, in: in, live: live, clock: c}
}

func (r *liveRig) ingest(t *testing.T, events []funnelwatch.Event) {
	t.Helper()
	res, err := r.in.Ingest(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	for i, reason := range res.Reasons {
		if reason != "" {
			t.Fatalf("event %s rejected: %s", events[i].ID, reason)
		}
	}
}

func (r *liveRig) step(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if r.restart {
		if err := r.live.StepAndSnapshot(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.in.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		old := r.live
		r.in = &engine.Ingestor{Store: *r.store, Workspace: r.ws, Funnel: &r.regs.Funnel}
		r.live = &engine.Live{Store: *r.store, Workspace: r.ws, Regs: r.regs, Ingestor: r.in, Now: r.clock.Now,
			ObserveUntil: old.ObserveUntil, SnapshotEvery: 1}
		if err := r.live.Step(ctx); err != nil {
			t.Fatal(err)
		}
		if old.Stats().Snapshots > 0 && r.live.Stats().Restored == 0 {
			t.Fatal("the engine restarted without its snapshot")
		}
		r.restarts++
		return
	}
	if err := r.live.Step(ctx); err != nil {
		t.Fatal(err)
	}
}

func (r *liveRig) violations(t *testing.T) []*funnelwatch.Violation {
	t.Helper()
	var vs []*funnelwatch.Violation
	err := (*r.store).View(context.Background(), r.ws, func(tx funnelwatch.ReadTx) error {
		var err error
		vs, err = tx.Violations(context.Background(), funnelwatch.ViolationFilter{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func (r *liveRig) actions(t *testing.T) []*funnelwatch.ActionRecord {
	t.Helper()
	var as []*funnelwatch.ActionRecord
	err := (*r.store).View(context.Background(), r.ws, func(tx funnelwatch.ReadTx) error {
		var err error
		as, err = tx.Actions(context.Background(), funnelwatch.ActionFilter{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func (r *liveRig) events(t *testing.T) []funnelwatch.Event {
	t.Helper()
	var es []funnelwatch.Event
	err := (*r.store).View(context.Background(), r.ws, func(tx funnelwatch.ReadTx) error {
		var err error
		es, err = tx.Events(context.Background(), funnelwatch.EventFilter{BySeq: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func readNDJSON(t *testing.T, path string) []funnelwatch.Event {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []funnelwatch.Event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		e, err := funnelwatch.DecodeEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, e)
	}
	return out
}

// finding renders a finding as the backtest contract compares it.
func finding(rule, severity, deal, task, call, user, pipeline, stage, metric string, opened time.Time, resolved *time.Time, loc *time.Location) string {
	res := "null"
	if resolved != nil {
		res = resolved.In(loc).Format(time.RFC3339)
	}
	return fmt.Sprintf("%s/%s deal=%s task=%s call=%s user=%s at=%s/%s metric=%s opened=%s resolved=%s",
		rule, severity, deal, task, call, user, pipeline, stage, metric, opened.In(loc).Format(time.RFC3339), res)
}

// TestLiveMatchesTheScenarios runs every hand-worked scenario through the
// live engine as it would happen live — the wall clock moved to each
// event's time, the events of that moment ingested through the API path,
// the engine stepped, and at last the clock moved to the scenario's end —
// and expects exactly the scenario's findings and actions in the store:
// live and backtest are one engine.
func TestLiveMatchesTheScenarios(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		liveScenarios(t, func(t *testing.T, regs *regulations.Regulations, now time.Time, _ string) *liveRig {
			return newLiveRig(t, regs, filepath.Join(t.TempDir(), "fw.db"), now)
		})
	})
	t.Run("postgres", func(t *testing.T) {
		pg := postgresStore(t)
		liveScenarios(t, func(t *testing.T, regs *regulations.Regulations, now time.Time, name string) *liveRig {
			return newLiveRigOn(t, pg, name, regs, now)
		})
	})
	// The same stories with the server restarted at every moment: the
	// timers, the open findings and what the robots did come back from
	// the engine's snapshot, not from a read of the whole log.
	t.Run("restarted", func(t *testing.T) {
		liveScenarios(t, func(t *testing.T, regs *regulations.Regulations, now time.Time, _ string) *liveRig {
			r := newLiveRig(t, regs, filepath.Join(t.TempDir(), "fw.db"), now)
			r.restart = true
			return r
		})
	})
}

// postgresStore opens a fresh PostgreSQL database for the test when
// FUNNELWATCH_TEST_POSTGRES names a server (.ci/run sets it), and drops
// it afterwards; without it the test is skipped, and says so.
func postgresStore(t *testing.T) funnelwatch.Store {
	t.Helper()
	admin := os.Getenv("FUNNELWATCH_TEST_POSTGRES")
	if admin == "" {
		t.Skip("FUNNELWATCH_TEST_POSTGRES is not set")
	}
	ctx := context.Background()
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("funnelwatch_engine_%d_%d", os.Getpid(), time.Now().UnixNano())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	st, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		db.Close()
	})
	return st
}

func liveScenarios(t *testing.T, open func(t *testing.T, regs *regulations.Regulations, now time.Time, name string) *liveRig) {
	dirs, _ := filepath.Glob("../testdata/scenarios/*")
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Until       string `json:"until"`
				Mode        string `json:"mode"`
				Regulations string `json:"regulations"`
				Violations  []struct {
					Rule, Severity, Metric string
					DealID                 string `json:"deal_id"`
					TaskID                 string `json:"task_id"`
					CallID                 string `json:"call_id"`
					User, Pipeline, Stage  string
					OpenedAt               time.Time  `json:"opened_at"`
					ResolvedAt             *time.Time `json:"resolved_at"`
				} `json:"violations"`
				Actions []engine.ActionView `json:"actions"`
			}
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			regsPath := filepath.Join(dir, "regulations.yaml")
			if want.Regulations != "" {
				regsPath = filepath.Join(dir, want.Regulations)
			} else if _, err := os.Stat(regsPath); err != nil {
				regsPath = "../testdata/regulations.example.yaml"
			}
			regs, err := regulations.ParseFile(regsPath)
			if err != nil {
				t.Fatal(err)
			}
			until, err := time.Parse(time.RFC3339, want.Until)
			if err != nil {
				t.Fatal(err)
			}
			rig := open(t, regs, until, filepath.Base(dir))
			if want.Mode == "observe" {
				rig.live.ObserveUntil = until
			}
			events := readNDJSON(t, filepath.Join(dir, "events.ndjson"))
			slices.SortStableFunc(events, func(a, b funnelwatch.Event) int { return a.At.Compare(b.At) })
			for i := 0; i < len(events) && !events[i].At.After(until); {
				j := i
				for j < len(events) && events[j].At.Equal(events[i].At) {
					j++
				}
				rig.clock.t = events[i].At
				rig.ingest(t, events[i:j])
				rig.step(t)
				i = j
			}
			rig.clock.t = until
			rig.step(t)

			loc := regs.Location
			var got, exp []string
			for _, v := range rig.violations(t) {
				got = append(got, finding(v.Rule, string(v.Severity), v.DealID, v.TaskID, v.CallID, v.User, v.Pipeline, v.Stage, v.Metric, v.OpenedAt, v.ResolvedAt, loc))
			}
			for _, v := range want.Violations {
				exp = append(exp, finding(v.Rule, v.Severity, v.DealID, v.TaskID, v.CallID, v.User, v.Pipeline, v.Stage, v.Metric, v.OpenedAt, v.ResolvedAt, loc))
			}
			slices.Sort(got)
			slices.Sort(exp)
			if !slices.Equal(got, exp) {
				t.Errorf("findings\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(exp, "\n      "))
			}
			// Each action as the outbox keeps it — its whole payload, the
			// backtest's JSON — against the scenario's.
			var gotA, expA []string
			for _, a := range rig.actions(t) {
				var v engine.ActionView
				if err := json.Unmarshal(a.Payload, &v); err != nil {
					t.Fatalf("payload of %s: %v", a.Key, err)
				}
				b, _ := json.Marshal(v)
				gotA = append(gotA, string(b))
				if want.Mode == "observe" && a.Status != funnelwatch.ActionObserved {
					t.Errorf("action %s of a recorded history is %s, want observed", a.Key, a.Status)
				}
			}
			for _, a := range want.Actions {
				b, _ := json.Marshal(a)
				expA = append(expA, string(b))
			}
			slices.Sort(gotA)
			slices.Sort(expA)
			if !slices.Equal(gotA, expA) {
				t.Errorf("actions\n got  %s\n want %s", strings.Join(gotA, "\n      "), strings.Join(expA, "\n      "))
			}
			// Tasks, moves and reassignments the engine made are events
			// of the log, once each.
			if want.Mode != "observe" {
				inLog := map[string]int{}
				for _, e := range rig.events(t) {
					if k, ok := strings.CutPrefix(e.ID, "act:"); ok {
						inLog[k]++
					}
				}
				for _, a := range rig.actions(t) {
					internal := a.Type == "task" || a.Type == "move" || a.Type == "assign" || a.Type == "copy"
					if internal && a.Status == funnelwatch.ActionDone && inLog[a.Key] != 1 {
						t.Errorf("action %s is done but in the log %d times", a.Key, inLog[a.Key])
					}
				}
			}
		})
	}
	if n < 20 {
		t.Fatalf("only %d scenarios found", n)
	}
}

func nov2(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, "2026-11-02T"+s+"+03:00")
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func exampleRegs(t *testing.T) *regulations.Regulations {
	t.Helper()
	regs, err := regulations.ParseFile("../testdata/regulations.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return regs
}

func event(t *testing.T, js string) funnelwatch.Event {
	t.Helper()
	e, err := funnelwatch.DecodeEvent([]byte(js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return e
}

// TestLiveRestartDoesNotRepeatActions stops the engine (a new Ingestor
// and a new engine on the same store, as after a crash) between the
// overdue notice and the control task, and again at the end: every
// action is in the outbox once, every task the engine set is in the log
// once, the finding is one row.
func TestLiveRestartDoesNotRepeatActions(t *testing.T) {
	regs := exampleRegs(t)
	path := filepath.Join(t.TempDir(), "fw.db")
	rig := newLiveRig(t, regs, path, nov2(t, "10:00:00"))
	rig.ingest(t, []funnelwatch.Event{event(t, `{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D9","pipeline":"sales","stage":"target","responsible":"roman","amount":120000}}`)})
	rig.step(t)
	rig.clock.t = nov2(t, "10:20:00")
	rig.step(t)
	if got := len(rig.actions(t)); got != 2 {
		t.Fatalf("by 10:20: %d actions, want the robot's task and the overdue notice", got)
	}

	restart := func() {
		rig.in = &engine.Ingestor{Store: *rig.store, Workspace: "ws", Funnel: &regs.Funnel}
		rig.live = &engine.Live{Store: *rig.store, Workspace: "ws", Regs: regs, Ingestor: rig.in, Now: rig.clock.Now}
	}
	restart()
	rig.clock.t = nov2(t, "11:30:00")
	rig.step(t)
	restart()
	rig.step(t)
	rig.step(t)

	keys := map[string]int{}
	for _, a := range rig.actions(t) {
		keys[a.Key]++
	}
	want := []string{"sales.target.on_enter:e1:0", "overdue_notify:sales.target.on_enter:e1:0@20261102T071500Z:0",
		"overdue_control:sales.target.on_enter:e1:0@20261102T071500Z:0"}
	if len(keys) != len(want) {
		t.Errorf("actions %v, want %v", keys, want)
	}
	for _, k := range want {
		if keys[k] != 1 {
			t.Errorf("action %s in the outbox %d times", k, keys[k])
		}
	}
	acts := 0
	for _, e := range rig.events(t) {
		if strings.HasPrefix(e.ID, "act:") {
			acts++
		}
	}
	if acts != 2 {
		t.Errorf("%d action events in the log, want 2 (the robot's task and the control task)", acts)
	}
	vs := rig.violations(t)
	if len(vs) != 1 || vs[0].Rule != "task_overdue" || !vs[0].Open() || !vs[0].OpenedAt.Equal(nov2(t, "10:15:00")) {
		t.Fatalf("findings after two restarts: %+v", vs)
	}
	v := vs[0]
	// Evidence and money at risk: nothing has closed yet, so the whole
	// amount is at risk.
	var ev map[string]any
	if err := json.Unmarshal(v.Evidence, &ev); err != nil || ev["task_id"] != "sales.target.on_enter:e1:0" || ev["due"] == nil {
		t.Errorf("evidence %s (%v)", v.Evidence, err)
	}
	if v.Amount != 120000 || v.WinRate != 1 || v.MoneyAtRisk != 120000 {
		t.Errorf("money at risk: amount %v × win rate %v = %v", v.Amount, v.WinRate, v.MoneyAtRisk)
	}
	st := rig.live.Stats()
	if st.OpenFindings != 1 || st.Clock != nov2(t, "11:30:00") {
		t.Errorf("stats %+v", st)
	}
}

// TestLiveLateEvent: the CRM reports at 10:20 that the task was done at
// 10:18. The engine had opened the overdue finding at 10:15; it resolves
// at 10:18, when the task was done, not when the news came.
func TestLiveLateEvent(t *testing.T) {
	regs := exampleRegs(t)
	rig := newLiveRig(t, regs, filepath.Join(t.TempDir(), "fw.db"), nov2(t, "10:00:00"))
	rig.ingest(t, []funnelwatch.Event{event(t, `{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman"}}`)})
	rig.step(t)
	rig.clock.t = nov2(t, "10:20:00")
	rig.step(t)
	rig.ingest(t, []funnelwatch.Event{
		event(t, `{"id":"e2","type":"task.completed","at":"2026-11-02T10:18:00+03:00","task_id":"sales.target.on_enter:e1:0","result":"Телефон получен"}`),
		event(t, `{"id":"e3","type":"task.created","at":"2026-11-02T10:18:30+03:00","task":{"id":"T2","deal_id":"D1","due":"2026-11-02T12:00:00+03:00","text":"Перезвонить"}}`),
	})
	rig.clock.t = nov2(t, "10:21:00")
	rig.step(t)
	var overdue *funnelwatch.Violation
	for _, v := range rig.violations(t) {
		if v.Rule == "task_overdue" {
			overdue = v
		}
		if v.Open() {
			t.Errorf("still open: %s %s", v.Rule, v.TaskID)
		}
	}
	if overdue == nil || overdue.ResolvedAt == nil || !overdue.ResolvedAt.Equal(nov2(t, "10:18:00")) {
		t.Fatalf("overdue finding %+v, want resolved at 10:18", overdue)
	}
	if st := rig.live.Stats(); st.Late != 2 {
		t.Errorf("late events %d, want 2", st.Late)
	}
}

// TestLiveObservesARecordedHistory: a history imported from a CRM that
// ran its own robots is observed up to its end; after it, the engine acts.
func TestLiveObservesARecordedHistory(t *testing.T) {
	regs := exampleRegs(t)
	rig := newLiveRig(t, regs, filepath.Join(t.TempDir(), "fw.db"), nov2(t, "12:00:00"))
	rig.live.ObserveUntil = nov2(t, "11:00:00")
	rig.ingest(t, []funnelwatch.Event{
		event(t, `{"id":"h1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman"}}`),
		event(t, `{"id":"h2","type":"task.created","at":"2026-11-02T10:00:00+03:00","task":{"id":"crm-1","deal_id":"D1","due":"2026-11-02T10:15:00+03:00","text":"Получить контакт"}}`),
		event(t, `{"id":"h3","type":"deal.created","at":"2026-11-02T11:30:00+03:00","deal":{"id":"D2","pipeline":"sales","stage":"target","responsible":"olga"}}`),
	})
	rig.step(t)
	status := map[string]funnelwatch.ActionStatus{}
	for _, a := range rig.actions(t) {
		status[a.Key] = a.Status
	}
	if status["sales.target.on_enter:h1:0"] != funnelwatch.ActionObserved {
		t.Errorf("the history's robot task: %q, want observed", status["sales.target.on_enter:h1:0"])
	}
	if status["sales.target.on_enter:h3:0"] != funnelwatch.ActionDone {
		t.Errorf("after the history: %q, want done", status["sales.target.on_enter:h3:0"])
	}
	if status["overdue_notify:crm-1@20261102T071500Z:0"] != funnelwatch.ActionObserved {
		t.Errorf("the history's overdue notice: %q, want observed (%v)", status["overdue_notify:crm-1@20261102T071500Z:0"], status)
	}
	var robots []string
	for _, e := range rig.events(t) {
		if strings.HasPrefix(e.ID, "act:") {
			robots = append(robots, e.ID)
		}
	}
	// The CRM's task is still overdue at 11:15, after the history: the
	// control task is the engine's own, live.
	if !slices.Equal(robots, []string{"act:overdue_control:crm-1@20261102T071500Z:0", "act:sales.target.on_enter:h3:0"}) {
		t.Errorf("events the engine made: %v", robots)
	}
}
