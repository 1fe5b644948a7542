package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
)

// Funnel is a small company in the shape of the DESIGN example: a sales
// pipeline with a lifetime and a warm-up pipeline.
func Funnel() *funnelwatch.Funnel {
	stage := func(p, id string, order int, typ funnelwatch.StageType) funnelwatch.Stage {
		return funnelwatch.Stage{ID: id, Pipeline: p, Name: id, Order: order, Type: typ}
	}
	return &funnelwatch.Funnel{
		Company:  "ZolotarevAuto",
		Location: time.UTC,
		Users: []funnelwatch.User{
			{ID: "sergey", Name: "Сергей", Role: funnelwatch.RoleSupervisor},
			{ID: "roman", Name: "Роман", Role: funnelwatch.RoleManager, Supervisor: "sergey"},
			{ID: "olga", Name: "Ольга", Role: funnelwatch.RoleManager, Supervisor: "sergey", SalesRole: "warmer"},
		},
		Pipelines: []funnelwatch.Pipeline{
			{ID: "sales", Name: "Основная воронка", Kind: funnelwatch.KindSales, Lifetime: 7 * 24 * time.Hour, Stages: []funnelwatch.Stage{
				stage("sales", "target", 0, funnelwatch.StageOpen), stage("sales", "contact", 1, funnelwatch.StageOpen),
				stage("sales", "ready", 2, funnelwatch.StageOpen), stage("sales", "won", 3, funnelwatch.StageWon),
				stage("sales", "lost", 4, funnelwatch.StageLost),
			}},
			{ID: "warmup", Name: "Прогрев", Kind: funnelwatch.KindWarmup, Stages: []funnelwatch.Stage{
				stage("warmup", "new", 0, funnelwatch.StageOpen), stage("warmup", "won", 1, funnelwatch.StageWon),
				stage("warmup", "lost", 2, funnelwatch.StageLost),
			}},
		},
	}
}

// decode parses events written in the wire format, failing the test on a
// malformed one.
func decode(t testing.TB, lines ...string) []funnelwatch.Event {
	t.Helper()
	out := make([]funnelwatch.Event, len(lines))
	for i, l := range lines {
		e, err := funnelwatch.DecodeEvent([]byte(l))
		if err != nil {
			t.Fatalf("decode %s: %v", l, err)
		}
		out[i] = e
	}
	return out
}

func ingestor(t testing.TB, s funnelwatch.Store, maxCached int) *engine.Ingestor {
	return &engine.Ingestor{Store: s, Workspace: workspace(t, s), Funnel: Funnel(), MaxCached: maxCached,
		Now: func() time.Time { return time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC) }}
}

// ingest ingests a batch and syncs the state tables, as a reader would.
func ingest(t testing.TB, in *engine.Ingestor, events []funnelwatch.Event) *engine.Result {
	t.Helper()
	res, err := in.Ingest(context.Background(), events)
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if err := in.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return res
}

// RunIngest checks the ingest path (engine.Ingestor) on the store.
func RunIngest(t *testing.T, open Opener) {
	// Once with the deals cached between batches, once with every deal
	// read back from the state tables by the next batch that needs it
	// (a cache bounded at one deal), as deals beyond the bound are.
	t.Run("Cached", func(t *testing.T) { runIngest(t, open, 0) })
	t.Run("ReadBack", func(t *testing.T) { runIngest(t, open, 1) })
}

func runIngest(t *testing.T, open Opener, maxCached int) {
	t.Run("DuplicateBatchStoredOnce", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		batch := decode(t,
			`{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":42000,"source":"avito","contact":{"name":"Иван","phone":"8 (912) 345-67-89"}}}`,
			`{"id":"e2","type":"task.created","at":"2026-11-02T10:01:00+03:00","task":{"id":"T1","deal_id":"D1","due":"2026-11-02T10:15:00+03:00","text":"Получить контакт клиента"}}`,
			`{"id":"e3","type":"deal.stage_changed","at":"2026-11-02T10:20:00+03:00","deal_id":"D1","to_stage":"contact"}`,
		)
		first := ingest(t, in, batch)
		if first.Count(engine.Accepted) != 3 {
			t.Fatalf("first post accepted %d, want 3 (reasons %q)", first.Count(engine.Accepted), first.Reasons)
		}
		second := ingest(t, in, batch)
		if second.Count(engine.Duplicate) != 3 || second.Count(engine.Accepted) != 0 {
			t.Fatalf("second post: %d duplicates, %d accepted; want 3, 0", second.Count(engine.Duplicate), second.Count(engine.Accepted))
		}
		view(t, s, in.Workspace, func(tx funnelwatch.ReadTx) error {
			n, err := tx.EventCount(context.Background())
			if n != 3 {
				t.Errorf("EventCount = %d, want 3", n)
			}
			d, err := tx.Deal(context.Background(), "D1")
			if err != nil {
				return err
			}
			if d.Stage != "contact" || d.Responsible != "roman" || d.ContactID != "tel:+79123456789" || d.Amount != 42000 {
				t.Errorf("deal = %+v", d)
			}
			task, err := tx.Task(context.Background(), "T1")
			if err != nil {
				return err
			}
			// The assignee defaults to the deal's responsible.
			if task.Assignee != "roman" || task.Due == nil || !task.Due.Equal(time.Date(2026, 11, 2, 7, 15, 0, 0, time.UTC)) {
				t.Errorf("task = %+v", task)
			}
			return err
		})
	})

	t.Run("BadEventsRejectedRestKept", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		var lines []string
		for i := range 997 {
			lines = append(lines, fmt.Sprintf(`{"id":"ok-%d","type":"deal.created","at":"2026-11-02T09:%02d:00+03:00","deal":{"id":"D%d","pipeline":"sales","responsible":"olga"}}`, i, i%60, i))
		}
		bad := map[int]string{
			100: `{"id":"bad-pipeline","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"X1","pipeline":"nope"}}`,
			500: `{"id":"bad-user","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"X2","pipeline":"sales","responsible":"ghost"}}`,
			900: `{"id":"bad-deal","type":"deal.stage_changed","at":"2026-11-02T10:00:00+03:00","deal_id":"X404","to_stage":"contact"}`,
		}
		var events []funnelwatch.Event
		for i := 0; len(events) < 1000; i++ {
			if b, ok := bad[len(events)]; ok {
				events = append(events, decode(t, b)...)
				continue
			}
			events = append(events, decode(t, lines[0])...)
			lines = lines[1:]
		}
		res := ingest(t, in, events)
		if res.Count(engine.Accepted) != 997 || res.Count(engine.Rejected) != 3 {
			t.Fatalf("accepted %d rejected %d, want 997 and 3", res.Count(engine.Accepted), res.Count(engine.Rejected))
		}
		wantReason := map[int]string{100: `unknown pipeline "nope"`, 500: `unknown user "ghost"`, 900: `unknown deal "X404"`}
		for i, want := range wantReason {
			if res.Outcomes[i] != engine.Rejected || !strings.Contains(res.Reasons[i], want) {
				t.Errorf("event %d: outcome %v reason %q, want rejected with %q", i, res.Outcomes[i], res.Reasons[i], want)
			}
		}
		view(t, s, in.Workspace, func(tx funnelwatch.ReadTx) error {
			n, err := tx.EventCount(context.Background())
			if n != 997 {
				t.Errorf("EventCount = %d, want 997", n)
			}
			return err
		})
	})

	t.Run("Rejections", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		ingest(t, in, decode(t,
			`{"id":"c1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`,
			`{"id":"c2","type":"task.created","at":"2026-11-02T10:00:00+03:00","task":{"id":"T1","deal_id":"D1"}}`,
			`{"id":"c3","type":"task.completed","at":"2026-11-02T10:05:00+03:00","task_id":"T1","result":"done"}`,
		))
		cases := []struct {
			event, reason string
		}{
			{`{"id":"r1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales","stage":"nowhere"}}`, `unknown stage "nowhere"`},
			{`{"id":"r2","type":"deal.created","at":"2026-11-02T11:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`, `deal "D1" already exists`},
			{`{"id":"r3","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"warmup/nowhere"}`, `unknown stage "warmup/nowhere"`},
			{`{"id":"r4","type":"deal.responsible_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to":"ghost"}`, `unknown user "ghost"`},
			{`{"id":"r5","type":"task.created","at":"2026-11-02T11:00:00+03:00","task":{"id":"T2","deal_id":"D9"}}`, `unknown deal "D9"`},
			{`{"id":"r6","type":"task.completed","at":"2026-11-02T11:00:00+03:00","task_id":"T9"}`, `unknown task "T9"`},
			{`{"id":"r7","type":"task.completed","at":"2026-11-02T11:00:00+03:00","task_id":"T1"}`, `already closed`},
			{`{"id":"r8","type":"note.added","at":"2026-11-02T09:00:00+03:00","note":{"id":"N1","deal_id":"D1","text":"x"}}`, `before deal "D1" was created`},
			{`{"id":"r9","type":"call","at":"2026-11-02T11:00:00+03:00","call":{"id":"K1","user":"ghost","direction":"in"}}`, `unknown user "ghost"`},
			{`{"id":"r10","type":"task.created","at":"2026-11-02T11:00:00+03:00","task":{"id":"T1","deal_id":"D1"}}`, `task "T1" already exists`},
		}
		for _, c := range cases {
			res := ingest(t, in, decode(t, c.event))
			if res.Outcomes[0] != engine.Rejected || !strings.Contains(res.Reasons[0], c.reason) {
				t.Errorf("%s: outcome %v reason %q, want rejection with %q", c.event, res.Outcomes[0], res.Reasons[0], c.reason)
			}
		}
		// A rejected id is not burnt: the corrected event is accepted.
		res := ingest(t, in, decode(t, `{"id":"r1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales","stage":"target"}}`))
		if res.Outcomes[0] != engine.Accepted {
			t.Errorf("corrected r1: %v %q", res.Outcomes[0], res.Reasons[0])
		}
	})

	t.Run("OutOfOrderFoldedInEventTime", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		// Within one batch, a task listed before its deal but later in time.
		ingest(t, in, decode(t,
			`{"id":"o2","type":"task.created","at":"2026-11-02T10:05:00+03:00","task":{"id":"T1","deal_id":"D1","due":"2026-11-02T12:00:00+03:00"}}`,
			`{"id":"o1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`,
			`{"id":"o3","type":"deal.stage_changed","at":"2026-11-02T12:00:00+03:00","deal_id":"D1","to_stage":"ready"}`,
		))
		// Later batches bring older history: a move at 11:00 and a
		// reschedule at 11:30 arrive after the 12:00 move.
		res := ingest(t, in, decode(t,
			`{"id":"o4","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"contact"}`,
			`{"id":"o5","type":"task.rescheduled","at":"2026-11-02T11:30:00+03:00","task_id":"T1","due":"2026-11-03T12:00:00+03:00"}`,
		))
		if res.Count(engine.Accepted) != 2 {
			t.Fatalf("late events: %v %q", res.Outcomes, res.Reasons)
		}
		var stored []funnelwatch.Event
		view(t, s, in.Workspace, func(tx funnelwatch.ReadTx) error {
			d, err := tx.Deal(context.Background(), "D1")
			if err != nil {
				return err
			}
			if d.Stage != "ready" || !d.StageEnteredAt.Equal(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)) {
				t.Errorf("deal after late move: stage %s entered %s; want ready entered 09:00Z", d.Stage, d.StageEnteredAt)
			}
			task, err := tx.Task(context.Background(), "T1")
			if err != nil {
				return err
			}
			if task.Reschedules != 1 || !task.Due.Equal(time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)) {
				t.Errorf("task after late reschedule = %+v", task)
			}
			// Re-folding the stored log gives the stored state.
			stored, err = tx.Events(context.Background(), funnelwatch.EventFilter{DealID: "D1"})
			if err != nil {
				return err
			}
			a := engine.Fold(in.Funnel, stored)
			if !reflect.DeepEqual(normal(a.Deal), normal(d)) {
				t.Errorf("re-fold differs from stored state:\nfold  %+v\nstore %+v", a.Deal, d)
			}
			if !reflect.DeepEqual(a.Tasks.Get("T1").Due.UTC(), task.Due.UTC()) {
				t.Errorf("re-folded task due %v, stored %v", a.Tasks.Get("T1").Due, task.Due)
			}
			return nil
		})
	})

	t.Run("ContactsAndCalls", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		res := ingest(t, in, decode(t,
			`{"id":"p1","type":"deal.created","at":"2026-11-01T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","contact":{"name":"Иван","phone":"+7 912 345-67-89"}}}`,
			`{"id":"p2","type":"deal.stage_changed","at":"2026-11-01T12:00:00+03:00","deal_id":"D1","to_stage":"won"}`,
			`{"id":"p3","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales","contact":{"phone":"89123456789","email":"Ivan@Example.com"}}}`,
			`{"id":"p4","type":"call","at":"2026-11-02T10:30:00+03:00","call":{"id":"K1","direction":"in","phone":"8-912-345-67-89","duration_s":0,"answered":false}}`,
		))
		if res.Count(engine.Accepted) != 4 {
			t.Fatalf("accepted %d: %q", res.Count(engine.Accepted), res.Reasons)
		}
		view(t, s, in.Workspace, func(tx funnelwatch.ReadTx) error {
			ctx := context.Background()
			d1, _ := tx.Deal(ctx, "D1")
			d2, _ := tx.Deal(ctx, "D2")
			if d1 == nil || d2 == nil || d1.ContactID != d2.ContactID || d1.ContactID != "tel:+79123456789" {
				t.Fatalf("deals of one client have contacts %v and %v", d1, d2)
			}
			if d1.Status != funnelwatch.DealWon || d1.ClosedAt == nil {
				t.Errorf("D1 not won: %+v", d1)
			}
			c, err := tx.Contact(ctx, d1.ContactID)
			if err != nil {
				return err
			}
			if c.Name != "Иван" || len(c.Emails) != 1 || c.Emails[0] != "ivan@example.com" {
				t.Errorf("contact = %+v", c)
			}
			// The call named no deal: it joins the client's open deal.
			calls, err := tx.Calls(ctx, "D2")
			if err != nil {
				return err
			}
			if len(calls) != 1 || calls[0].Phone != "+79123456789" || calls[0].Answered {
				t.Errorf("calls of D2 = %+v", calls)
			}
			return nil
		})
	})
}

// normal strips what a store may represent differently (time zones,
// empty maps) so states can be compared.
func normal(d *funnelwatch.Deal) funnelwatch.Deal {
	c := *d
	utc := func(t time.Time) time.Time { return t.UTC() }
	c.CreatedAt, c.UpdatedAt, c.StageEnteredAt, c.PipelineEnteredAt, c.LastEventAt =
		utc(c.CreatedAt), utc(c.UpdatedAt), utc(c.StageEnteredAt), utc(c.PipelineEnteredAt), utc(c.LastEventAt)
	if c.ClosedAt != nil {
		t := c.ClosedAt.UTC()
		c.ClosedAt = &t
	}
	if len(c.Fields) == 0 {
		c.Fields = nil
	}
	return c
}
