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

// visitString writes a visit compactly for comparisons:
// "D1 sales/target 10..70 → sales/contact by roman" (minutes from base;
// ".." with nothing after it while open).
func visitString(v *funnelwatch.StageVisit) string {
	minutes := func(t time.Time) string { return fmt.Sprint(int(t.Sub(base) / time.Minute)) }
	s := v.DealID + " " + v.Pipeline + "/" + v.Stage + " " + minutes(v.Entered) + ".."
	if v.Left != nil {
		s += minutes(*v.Left) + " → " + v.NextPipeline + "/" + v.NextStage
	}
	return s + " by " + v.Responsible
}

func visitStrings(vs []*funnelwatch.StageVisit) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, visitString(v))
	}
	return out
}

func testStageVisits(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	visit := func(deal, pipeline, stage string, entered int, left *int, next, responsible string) *funnelwatch.StageVisit {
		v := &funnelwatch.StageVisit{DealID: deal, Pipeline: pipeline, Stage: stage, Entered: at(entered), Responsible: responsible}
		if left != nil {
			v.Left = ptr(at(*left))
			v.NextPipeline, v.NextStage, _ = strings.Cut(next, "/")
		}
		return v
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveStageVisits(ctx,
			visit("D1", "sales", "target", 0, nil, "", "roman"),
			visit("D2", "sales", "target", 5, nil, "", "olga"),
		)
	})
	update(t, s, other, func(tx funnelwatch.Tx) error {
		return tx.SaveStageVisits(ctx, visit("D1", "sales", "target", 0, nil, "", "roman"))
	})
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveStageVisits(ctx,
			// D1 moves on: its stored stay is closed by key (the
			// responsible given is not written over the stored one), the
			// next one opened, then closed in the same call (merged).
			visit("D1", "sales", "target", 0, ptr(60), "sales/contact", "other"),
			visit("D1", "sales", "contact", 60, nil, "", "roman"),
			visit("D1", "sales", "contact", 60, ptr(100), "sales/won", "roman"),
			visit("D1", "sales", "won", 100, nil, "", "roman"),
			// An open visit given again does not reopen a closed one.
			visit("D1", "sales", "target", 0, nil, "", "roman"),
			// D3 is deleted from a stay stored before (a stay the store
			// lacks is added closed).
			visit("D3", "warmup", "new", 10, ptr(30), "", "olga"),
		)
	})
	want := []string{
		"D1 sales/target 0..60 → sales/contact by roman",
		"D1 sales/contact 60..100 → sales/won by roman",
		"D1 sales/won 100.. by roman",
		"D2 sales/target 5.. by olga",
		"D3 warmup/new 10..30 → / by olga",
	}
	cases := []struct {
		name string
		f    funnelwatch.StageVisitFilter
		want []string
	}{
		{"all", funnelwatch.StageVisitFilter{}, want},
		{"a pipeline", funnelwatch.StageVisitFilter{Pipeline: "sales"}, want[:4]},
		{"entered in [5, 100)", funnelwatch.StageVisitFilter{EnteredFrom: at(5), EnteredTo: at(100)}, []string{want[1], want[3], want[4]}},
		{"left in [30, 100)", funnelwatch.StageVisitFilter{LeftFrom: at(30), LeftTo: at(100)}, []string{want[0], want[4]}},
		{"left from 60", funnelwatch.StageVisitFilter{LeftFrom: at(60)}, want[:2]},
		{"left before 60", funnelwatch.StageVisitFilter{LeftTo: at(60)}, []string{want[4]}},
		{"deals", funnelwatch.StageVisitFilter{DealIDs: []string{"D2", "D3"}}, want[3:]},
		{"deals entered from 60", funnelwatch.StageVisitFilter{DealIDs: []string{"D1", "D2"}, EnteredFrom: at(60)}, want[1:3]},
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range cases {
			got, err := tx.StageVisits(ctx, c.f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if g := visitStrings(got); !reflect.DeepEqual(g, c.want) {
				t.Errorf("%s:\n got %q\nwant %q", c.name, g, c.want)
			}
		}
		return nil
	})
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.DeleteStageVisits(ctx, "D1", "D3") })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{})
		if g := visitStrings(got); !reflect.DeepEqual(g, want[3:4]) {
			t.Errorf("after deleting D1 and D3: %q", g)
		}
		return err
	})
	view(t, s, other, func(tx funnelwatch.ReadTx) error {
		got, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{})
		if g := visitStrings(got); !reflect.DeepEqual(g, []string{"D1 sales/target 0.. by roman"}) {
			t.Errorf("other workspace: %q", g)
		}
		return err
	})
}

func testClosedDeals(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	deal := func(id string, status funnelwatch.DealStatus, closed, deleted *time.Time) *funnelwatch.Deal {
		return &funnelwatch.Deal{ID: id, Pipeline: "sales", Stage: string(status), Status: status, Responsible: "roman",
			CreatedAt: at(0), ClosedAt: closed, DeletedAt: deleted}
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveDeals(ctx,
			deal("D1", funnelwatch.DealWon, ptr(at(100)), nil),           // at the start
			deal("D2", funnelwatch.DealLost, ptr(at(150)), ptr(at(160))), // within, deleted since
			deal("D3", funnelwatch.DealWon, ptr(at(200)), nil),           // at the end
			deal("D4", funnelwatch.DealWon, ptr(at(99)), nil),            // before
			deal("D5", funnelwatch.DealOpen, nil, nil),                   // open
			deal("D6", funnelwatch.DealWon, ptr(at(120)), nil),           // within, before D2
		)
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.ClosedDeals(ctx, at(100), at(200))
		var ids []string
		for _, d := range got {
			ids = append(ids, d.ID+":"+string(d.Status))
		}
		if want := []string{"D1:won", "D6:won", "D2:lost"}; !reflect.DeepEqual(ids, want) {
			t.Errorf("ClosedDeals = %v, want %v", ids, want)
		}
		return err
	})
}

func testCallStats(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	call := func(id, user, dir, phone, deal string, minute, dur int, answered bool) *funnelwatch.Call {
		return &funnelwatch.Call{ID: id, User: user, DealID: deal, Direction: dir, Phone: phone, StartedAt: at(minute),
			DurationS: dur, Answered: answered}
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.InsertCalls(ctx,
			call("C0", "roman", "out", "+79001", "D1", 99, 500, true),   // before the period
			call("C1", "roman", "out", "+79001", "D1", 100, 40, true),   // successful (exactly 40 s)
			call("C2", "roman", "out", "+79001", "D1", 110, 39, true),   // answered, too short
			call("C3", "roman", "out", "+79002", "D2", 120, 0, false),   // not answered
			call("C4", "roman", "in", "+79001", "D1", 130, 0, false),    // missed, returned by C6
			call("C5", "olga", "in", "+79003", "D3", 140, 300, true),    // answered
			call("C6", "olga", "out", "+79001", "D9", 150, 20, true),    // the callback of C4, by someone else
			call("C7", "olga", "in", "+79003", "D3", 160, 0, false),     // missed, never returned
			call("C8", "olga", "in", "", "D4", 170, 0, false),           // missed, no phone: by deal
			call("C9", "roman", "in", "+79009", "D4", 250, 60, true),    // after the period: answers C8 by deal
			call("C10", "roman", "in", "+79003", "D3", 260, 0, false),   // after the period, missed: does not return C7
			call("C11", "roman", "out", "+79002", "D2", 200, 100, true), // at the end: outside
		)
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		stats, err := tx.CallStats(ctx, at(100), at(200), 40*time.Second)
		if err != nil {
			return err
		}
		want := []funnelwatch.CallStats{
			{User: "olga", Direction: "in", Calls: 3, Answered: 1, Successful: 1, TalkS: 300},
			{User: "olga", Direction: "out", Calls: 1, Answered: 1, Successful: 0, TalkS: 20},
			{User: "roman", Direction: "in", Calls: 1, Answered: 0, Successful: 0, TalkS: 0},
			{User: "roman", Direction: "out", Calls: 3, Answered: 2, Successful: 1, TalkS: 79},
		}
		if !reflect.DeepEqual(stats, want) {
			t.Errorf("CallStats =\n %+v\nwant\n %+v", stats, want)
		}
		stats, err = tx.CallStats(ctx, at(100), at(200), 20*time.Second)
		if err != nil {
			return err
		}
		if stats[1].Successful != 1 || stats[3].Successful != 2 {
			t.Errorf("CallStats at 20 s = %+v, want olga's callback and roman's two answered calls successful", stats)
		}
		missed, err := tx.MissedCalls(ctx, at(100), at(200))
		if err != nil {
			return err
		}
		var got []string
		for _, m := range missed {
			r := "never"
			if m.Returned != nil {
				r = fmt.Sprint(int(m.Returned.Sub(base) / time.Minute))
			}
			got = append(got, m.Call.ID+" "+m.Call.User+" "+r)
		}
		if want := []string{"C4 roman 150", "C7 olga never", "C8 olga 250"}; !reflect.DeepEqual(got, want) {
			t.Errorf("MissedCalls = %q, want %q", got, want)
		}
		return nil
	})
}

func testTaskStats(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	task := func(id, assignee string, created int, due, done *int) *funnelwatch.Task {
		t := &funnelwatch.Task{ID: id, DealID: "D1", Assignee: assignee, CreatedAt: at(created)}
		if due != nil {
			t.Due = ptr(at(*due))
		}
		if done != nil {
			t.CompletedAt = ptr(at(*done))
		}
		return t
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveTasks(ctx,
			task("T1", "roman", 50, ptr(120), nil),       // created before; due within, open: overdue
			task("T2", "roman", 100, ptr(130), ptr(130)), // created within; done on time
			task("T3", "roman", 110, ptr(140), ptr(141)), // created within; done late: overdue
			task("T4", "roman", 110, ptr(180), nil),      // created within; due after now (170): not yet
			task("T5", "olga", 150, nil, nil),            // created within, no due
			task("T6", "olga", 10, ptr(90), nil),         // due before the period: not its overdue
			task("T7", "olga", 120, ptr(160), ptr(200)),  // due within, done after the period: overdue
			task("T8", "olga", 200, ptr(150), nil),       // created at the end: outside; due within, open
			task("T9", "", 150, ptr(160), nil),           // nobody's
		)
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.TaskStats(ctx, at(100), at(200), at(170))
		want := []funnelwatch.TaskStats{
			{User: "", Created: 1, Overdue: 1},
			{User: "olga", Created: 2, Overdue: 2},
			{User: "roman", Created: 3, Overdue: 2},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("TaskStats = %+v\nwant %+v", got, want)
		}
		return err
	})
}

func testCardChanges(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	ev := func(id string, typ funnelwatch.EventType, minute int, actor, deal string) *funnelwatch.Event {
		e := &funnelwatch.Event{ID: id, Type: typ, At: at(minute), Actor: actor, DealID: deal}
		switch typ {
		case funnelwatch.EventNoteAdded:
			e.Note = &funnelwatch.NotePayload{ID: "n" + id, DealID: deal, Text: "x"}
		case funnelwatch.EventDealStageChanged:
			e.ToStage = "contact"
		}
		return e
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		_, err := tx.InsertEvents(ctx, []*funnelwatch.Event{
			ev("e1", funnelwatch.EventDealStageChanged, 100, "roman", "D1"),
			ev("e2", funnelwatch.EventDealUpdated, 110, "roman", "D1"), // the same card again
			ev("e3", funnelwatch.EventNoteAdded, 120, "roman", "D2"),
			ev("e4", funnelwatch.EventDealResponsibleChanged, 130, "roman", "D3"), // not a card change
			ev("e5", funnelwatch.EventDealUpdated, 140, "olga", "D1"),
			ev("e6", funnelwatch.EventDealUpdated, 200, "olga", "D2"), // at the end: outside
			ev("e7", funnelwatch.EventDealUpdated, 150, "", "D2"),     // nobody's
		})
		return err
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.CardChanges(ctx, at(100), at(200))
		if want := map[string]int{"roman": 2, "olga": 1}; !reflect.DeepEqual(got, want) {
			t.Errorf("CardChanges = %v, want %v", got, want)
		}
		return err
	})
}

// RunStageVisitsIngest checks that the Ingestor writes the stage visits
// the log folds into: as events come, after a late event, and after a
// restart that lost the write-behind.
func RunStageVisitsIngest(t *testing.T, open Opener) {
	// As RunIngest: with the deals cached, and with each read back from
	// the state tables by the next batch.
	t.Run("Cached", func(t *testing.T) { runStageVisitsIngest(t, open, 0) })
	t.Run("ReadBack", func(t *testing.T) { runStageVisitsIngest(t, open, 1) })
}

func runStageVisitsIngest(t *testing.T, open Opener, maxCached int) {
	ctx := context.Background()
	visits := func(t *testing.T, s funnelwatch.Store, ws string) []string {
		t.Helper()
		var got []string
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			vs, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{})
			got = visitStrings(vs)
			return err
		})
		return got
	}
	// Minutes from base (07:00Z): D1 created on target at 0 (10:00 MSK).
	created := `{"id":"v1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`
	toContact := `{"id":"v2","type":"deal.stage_changed","at":"2026-11-02T12:00:00+03:00","deal_id":"D1","to_stage":"contact"}`
	handOver := `{"id":"v3","type":"deal.responsible_changed","at":"2026-11-02T12:30:00+03:00","deal_id":"D1","to":"olga"}`
	toWarmup := `{"id":"v4","type":"deal.stage_changed","at":"2026-11-02T13:00:00+03:00","deal_id":"D1","to_stage":"warmup/new"}`
	lateReady := `{"id":"v5","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"sales/ready"}`
	deleted := `{"id":"v6","type":"deal.deleted","at":"2026-11-02T14:00:00+03:00","deal_id":"D1"}`

	t.Run("FollowTheLog", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		ingest(t, in, decode(t, created))
		if got, want := visits(t, s, in.Workspace), []string{"D1 sales/target 0.. by roman"}; !reflect.DeepEqual(got, want) {
			t.Errorf("after creation: %q", got)
		}
		ingest(t, in, decode(t, toContact, handOver, toWarmup))
		want := []string{
			"D1 sales/target 0..120 → sales/contact by roman",
			"D1 sales/contact 120..180 → warmup/new by roman",
			"D1 warmup/new 180.. by olga", // entered after the hand-over
		}
		if got := visits(t, s, in.Workspace); !reflect.DeepEqual(got, want) {
			t.Errorf("after the moves:\n got %q\nwant %q", got, want)
		}
		// A move at 11:00 arrives late: the deal is folded again and its
		// visits rewritten — the 10:00 stay on target now ends at 11:00.
		ingest(t, in, decode(t, lateReady))
		want = []string{
			"D1 sales/target 0..60 → sales/ready by roman",
			"D1 sales/ready 60..120 → sales/contact by roman",
			"D1 sales/contact 120..180 → warmup/new by roman",
			"D1 warmup/new 180.. by olga",
		}
		if got := visits(t, s, in.Workspace); !reflect.DeepEqual(got, want) {
			t.Errorf("after the late move:\n got %q\nwant %q", got, want)
		}
		ingest(t, in, decode(t, deleted))
		want[3] = "D1 warmup/new 180..240 → / by olga"
		if got := visits(t, s, in.Workspace); !reflect.DeepEqual(got, want) {
			t.Errorf("after the deletion:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("RecoveredAfterRestart", func(t *testing.T) {
		s := open(t)
		in := ingestor(t, s, maxCached)
		ingest(t, in, decode(t, created, toContact))
		// Acknowledged, never flushed: the process dies before its
		// write-behind, with a late event among the lost ones.
		for _, batch := range [][]string{{handOver, toWarmup}, {lateReady}} {
			if _, err := in.Ingest(ctx, decode(t, batch...)); err != nil {
				t.Fatal(err)
			}
		}
		again := &engine.Ingestor{Store: s, Workspace: in.Workspace, Funnel: in.Funnel, Now: in.Now}
		if err := again.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		want := []string{
			"D1 sales/target 0..60 → sales/ready by roman",
			"D1 sales/ready 60..120 → sales/contact by roman",
			"D1 sales/contact 120..180 → warmup/new by roman",
			"D1 warmup/new 180.. by olga",
		}
		if got := visits(t, s, in.Workspace); !reflect.DeepEqual(got, want) {
			t.Errorf("after the restart:\n got %q\nwant %q", got, want)
		}
	})
}
