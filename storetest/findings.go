package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// findings are six findings of one morning, in opening order:
//
//	V6 [5, 8)   stage.sla     olga   sales/target   D3
//	V1 [10, …)  task.overdue  roman  sales/target   D1  (open)
//	V2 [20, 40) stage.sla     olga   sales/contact  D2
//	V3 30       call.missed   roman  warmup/contact D1  (remark, instant)
//	V4 [50, …)  task.overdue  olga   sales/target   D3  (open, no evidence)
//	V5 60       note.missing  roman  sales/ready    D2  (remark, instant)
func findings() []*funnelwatch.Violation {
	v := func(id, rule string, sev funnelwatch.Severity, user, pipeline, stage, deal string, opened int, resolved *time.Time) *funnelwatch.Violation {
		return &funnelwatch.Violation{ID: id, Rule: rule, Severity: sev, User: user, Pipeline: pipeline, Stage: stage,
			DealID: deal, OpenedAt: at(opened), ResolvedAt: resolved,
			Message: funnelwatch.Text{RU: "Нарушение " + id, EN: "Violation " + id}, Evidence: json.RawMessage(`{"id":"` + id + `"}`)}
	}
	violation, remark := funnelwatch.SeverityViolation, funnelwatch.SeverityRemark
	v1 := v("V1", "task.overdue", violation, "roman", "sales", "target", "D1", 10, nil)
	v1.TaskID = "T1"
	v1.Recommendation = funnelwatch.Text{RU: "Позвоните клиенту", EN: "Call the client"}
	v1.Evidence = json.RawMessage(`{"task":"T1","due":"2026-11-02T07:05:00Z"}`)
	v1.Amount, v1.WinRate, v1.MoneyAtRisk = 15500.5, 0.25, 3875.125
	v3 := v("V3", "call.missed", remark, "roman", "warmup", "contact", "D1", 30, ptr(at(30)))
	v3.CallID = "C1"
	v4 := v("V4", "task.overdue", violation, "olga", "sales", "target", "D3", 50, nil)
	v4.Evidence = nil
	v5 := v("V5", "note.missing", remark, "roman", "sales", "ready", "D2", 60, ptr(at(60)))
	v5.Metric = "notes_per_call"
	return []*funnelwatch.Violation{
		v5, v4, v3, // saved out of order: the store orders
		v("V2", "stage.sla", violation, "olga", "sales", "contact", "D2", 20, ptr(at(40))),
		v1,
		v("V6", "stage.sla", violation, "olga", "sales", "target", "D3", 5, ptr(at(8))),
	}
}

func testViolations(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	saved := findings()
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, saved...) })
	// Another workspace has a finding of the same id and one of its own.
	update(t, s, other, func(tx funnelwatch.Tx) error {
		return tx.SaveViolations(ctx,
			&funnelwatch.Violation{ID: "V1", Rule: "elsewhere", Severity: funnelwatch.SeverityRemark, User: "roman", OpenedAt: at(1)},
			&funnelwatch.Violation{ID: "X1", Rule: "task.overdue", Severity: funnelwatch.SeverityViolation, User: "roman", OpenedAt: at(2)})
	})

	cases := []struct {
		name string
		f    funnelwatch.ViolationFilter
		want []string
		// count is what CountViolations says when the filter pages;
		// otherwise the length of want.
		count int
	}{
		{"everything in opening order", funnelwatch.ViolationFilter{}, []string{"V6", "V1", "V2", "V3", "V4", "V5"}, 0},
		{"a deal", funnelwatch.ViolationFilter{DealID: "D1"}, []string{"V1", "V3"}, 0},
		{"a user", funnelwatch.ViolationFilter{User: "olga"}, []string{"V6", "V2", "V4"}, 0},
		{"a team of users", funnelwatch.ViolationFilter{Users: []string{"olga", "nobody"}}, []string{"V6", "V2", "V4"}, 0},
		{"a rule", funnelwatch.ViolationFilter{Rule: "task.overdue"}, []string{"V1", "V4"}, 0},
		{"remarks", funnelwatch.ViolationFilter{Severity: funnelwatch.SeverityRemark}, []string{"V3", "V5"}, 0},
		{"a stage id in any pipeline", funnelwatch.ViolationFilter{Stage: "contact"}, []string{"V2", "V3"}, 0},
		{"a stage of one pipeline", funnelwatch.ViolationFilter{Stage: "warmup/contact"}, []string{"V3"}, 0},
		{"another pipeline's stage", funnelwatch.ViolationFilter{Stage: "sales/contact"}, []string{"V2"}, 0},
		{"a stage with three findings", funnelwatch.ViolationFilter{Stage: "sales/target"}, []string{"V6", "V1", "V4"}, 0},
		{"a pipeline is not a stage", funnelwatch.ViolationFilter{Stage: "sales"}, nil, 0},
		{"open ones", funnelwatch.ViolationFilter{Open: ptr(true)}, []string{"V1", "V4"}, 0},
		{"resolved ones", funnelwatch.ViolationFilter{Open: ptr(false)}, []string{"V6", "V2", "V3", "V5"}, 0},
		{"a user's resolved ones", funnelwatch.ViolationFilter{User: "roman", Open: ptr(false)}, []string{"V3", "V5"}, 0},
		// Opened in [30, 60): V3 opened at From and is in, V5 opened at
		// To and is out; V1 and V2, open throughout, opened before.
		{"a period", funnelwatch.ViolationFilter{From: at(30), To: at(60)}, []string{"V3", "V4"}, 0},
		{"a period's bounds", funnelwatch.ViolationFilter{From: at(20), To: at(50)}, []string{"V2", "V3"}, 0},
		{"a period with no opening, though two are open in it", funnelwatch.ViolationFilter{From: at(40), To: at(50)}, nil, 0},
		{"from alone", funnelwatch.ViolationFilter{From: at(31)}, []string{"V4", "V5"}, 0},
		{"to alone", funnelwatch.ViolationFilter{To: at(30)}, []string{"V6", "V1", "V2"}, 0},
		{"an instant finding inside the period", funnelwatch.ViolationFilter{From: at(59), To: at(61), Severity: funnelwatch.SeverityRemark}, []string{"V5"}, 0},
		{"a gap between openings", funnelwatch.ViolationFilter{From: at(11), To: at(20)}, nil, 0},
		// Open at an instant: opened at or before it, resolved after it
		// or not at all.
		{"open at 30", funnelwatch.ViolationFilter{OpenAt: at(30)}, []string{"V1", "V2"}, 0},
		{"open at the instant one opens", funnelwatch.ViolationFilter{OpenAt: at(20)}, []string{"V1", "V2"}, 0},
		{"open at the instant one is resolved", funnelwatch.ViolationFilter{OpenAt: at(40)}, []string{"V1"}, 0},
		{"open a microsecond before it is resolved", funnelwatch.ViolationFilter{OpenAt: at(40).Add(-time.Microsecond)}, []string{"V1", "V2"}, 0},
		{"open at the first one's opening", funnelwatch.ViolationFilter{OpenAt: at(5)}, []string{"V6"}, 0},
		{"open when the first is resolved and the next not yet opened", funnelwatch.ViolationFilter{OpenAt: at(8)}, nil, 0},
		// V3 and V5 open and resolve the same instant: open at no instant,
		// not even their own.
		{"instant findings are never open", funnelwatch.ViolationFilter{OpenAt: at(60), Severity: funnelwatch.SeverityRemark}, nil, 0},
		{"open at 60", funnelwatch.ViolationFilter{OpenAt: at(60)}, []string{"V1", "V4"}, 0},
		{"open long after", funnelwatch.ViolationFilter{OpenAt: at(1000)}, []string{"V1", "V4"}, 0},
		{"open before anything", funnelwatch.ViolationFilter{OpenAt: at(0)}, nil, 0},
		// With the other filters, AND: V1 is open at 55 but opened before
		// the period; V2 was open at 30 and is resolved since.
		{"opened in a period and open at an instant", funnelwatch.ViolationFilter{From: at(15), To: at(60), OpenAt: at(55)}, []string{"V4"}, 0},
		{"open at an instant and resolved since", funnelwatch.ViolationFilter{OpenAt: at(30), Open: ptr(false)}, []string{"V2"}, 0},
		{"a user's open at an instant", funnelwatch.ViolationFilter{OpenAt: at(55), User: "olga"}, []string{"V4"}, 0},
		{"a page of those open at an instant", funnelwatch.ViolationFilter{OpenAt: at(55), Offset: 1, Limit: 1}, []string{"V4"}, 2},
		{"a page", funnelwatch.ViolationFilter{Offset: 1, Limit: 2}, []string{"V1", "V2"}, 6},
		{"the first page", funnelwatch.ViolationFilter{Limit: 4}, []string{"V6", "V1", "V2", "V3"}, 6},
		{"the rest", funnelwatch.ViolationFilter{Offset: 4}, []string{"V4", "V5"}, 6},
		{"past the end", funnelwatch.ViolationFilter{Offset: 10, Limit: 5}, nil, 6},
		{"a filtered page", funnelwatch.ViolationFilter{User: "olga", Offset: 1, Limit: 1}, []string{"V2"}, 3},
		{"newest first", funnelwatch.ViolationFilter{Newest: true}, []string{"V5", "V4", "V3", "V2", "V1", "V6"}, 0},
		{"the newest page", funnelwatch.ViolationFilter{Newest: true, Limit: 2}, []string{"V5", "V4"}, 6},
		{"the next newest page", funnelwatch.ViolationFilter{Newest: true, Offset: 2, Limit: 2}, []string{"V3", "V2"}, 6},
		{"a user's newest resolved", funnelwatch.ViolationFilter{Newest: true, User: "roman", Open: ptr(false), Limit: 1}, []string{"V5"}, 2},
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range cases {
			got, err := tx.Violations(ctx, c.f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if !reflect.DeepEqual(violationIDs(got), c.want) {
				t.Errorf("%s: Violations = %v, want %v", c.name, violationIDs(got), c.want)
			}
			n, err := tx.CountViolations(ctx, c.f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			want := c.count
			if want == 0 {
				want = len(c.want)
			}
			if n != want {
				t.Errorf("%s: CountViolations = %d, want %d", c.name, n, want)
			}
		}

		all, err := tx.Violations(ctx, funnelwatch.ViolationFilter{})
		if err != nil {
			return err
		}
		byID := map[string]*funnelwatch.Violation{}
		for _, v := range all {
			byID[v.ID] = v
		}
		for _, want := range saved {
			got := byID[want.ID]
			if got == nil {
				continue // reported by the cases
			}
			if want.Evidence == nil {
				// Documented by the store: no evidence reads back as {}.
				want.Evidence = json.RawMessage(`{}`)
			}
			if d := violationDiff(got, want); d != "" {
				t.Errorf("%s does not round-trip: %s", want.ID, d)
			}
		}
		return nil
	})

	view(t, s, other, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Violations(ctx, funnelwatch.ViolationFilter{User: "roman"})
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(violationIDs(got), []string{"V1", "X1"}) || got[0].Rule != "elsewhere" {
			t.Errorf("other workspace's findings = %v, want its own V1 and X1", violationIDs(got))
		}
		n, err := tx.CountViolations(ctx, funnelwatch.ViolationFilter{})
		if n != 2 {
			t.Errorf("other workspace's CountViolations = %d, want 2", n)
		}
		if err != nil {
			return err
		}
		// Its two open since 1 and 2; this workspace's V6 is open at 5.
		got, err = tx.Violations(ctx, funnelwatch.ViolationFilter{OpenAt: at(5)})
		if !reflect.DeepEqual(violationIDs(got), []string{"V1", "X1"}) {
			t.Errorf("other workspace's open at 5 = %v, want its own V1 and X1", violationIDs(got))
		}
		return err
	})
}

// testViolationUpsert: finding a finding again changes what may change of
// it, never when it opened; many at once are saved in chunks.
func testViolationUpsert(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	first := &funnelwatch.Violation{ID: "V1", Rule: "task.overdue", Severity: funnelwatch.SeverityViolation,
		DealID: "D1", TaskID: "T1", User: "roman", Pipeline: "sales", Stage: "target", OpenedAt: at(10),
		Message: funnelwatch.Text{RU: "Задача просрочена", EN: "Task overdue"}, Evidence: json.RawMessage(`{"due":"07:05"}`),
		Amount: 1000, WinRate: 0.25, MoneyAtRisk: 250}
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, first) })
	again := *first
	again.OpenedAt = at(99)
	again.ResolvedAt = ptr(at(70))
	again.User = "olga"
	again.Message = funnelwatch.Text{RU: "Задача просрочена на час", EN: "Task an hour overdue"}
	again.Recommendation = funnelwatch.Text{RU: "Позвоните", EN: "Call"}
	again.Evidence = json.RawMessage(`{"due":"07:05","done":"08:10"}`)
	again.Amount, again.WinRate, again.MoneyAtRisk = 2000, 0.5, 1000
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, &again) })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Violations(ctx, funnelwatch.ViolationFilter{})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			t.Fatalf("after a second save %d findings, want 1", len(got))
		}
		want := again
		want.OpenedAt = at(10)
		if d := violationDiff(got[0], &want); d != "" {
			t.Errorf("after a second save: %s", d)
		}
		return nil
	})

	// Evidence that is not JSON fails the write, not every read after it.
	err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error {
		bad := again
		bad.Evidence = json.RawMessage(`{"due":`)
		return tx.SaveViolations(ctx, &bad)
	})
	if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID {
		t.Errorf("SaveViolations with broken evidence: err = %v, want invalid", err)
	}

	// Thousands in one transaction, in every chunk size; an id repeated
	// in one call is saved once, as last given.
	const n = 1237
	many := make([]*funnelwatch.Violation, 0, n+1)
	for i := range n {
		many = append(many, &funnelwatch.Violation{ID: fmt.Sprintf("M%04d", i), Rule: "stage.sla", Severity: funnelwatch.SeverityViolation,
			DealID: fmt.Sprintf("D%d", i%50), User: "roman", OpenedAt: at(100 + i)})
	}
	dup := *many[7]
	dup.ResolvedAt = ptr(at(5000))
	many = append(many, &dup)
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, many...) })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		total, err := tx.CountViolations(ctx, funnelwatch.ViolationFilter{Rule: "stage.sla"})
		if err != nil {
			return err
		}
		if total != n {
			t.Errorf("saved %d findings, CountViolations = %d", n, total)
		}
		resolved, err := tx.Violations(ctx, funnelwatch.ViolationFilter{Rule: "stage.sla", Open: ptr(false)})
		if err != nil {
			return err
		}
		if len(resolved) != 1 || resolved[0].ID != "M0007" {
			t.Errorf("resolved = %v, want M0007 as last given", violationIDs(resolved))
		}
		page, err := tx.Violations(ctx, funnelwatch.ViolationFilter{Rule: "stage.sla", Offset: 1000, Limit: 300})
		if err != nil {
			return err
		}
		if len(page) != n-1000 || page[0].ID != "M1000" {
			t.Errorf("page from 1000 = %d findings from %v, want %d from M1000", len(page), violationIDs(page[:min(1, len(page))]), n-1000)
		}
		return nil
	})
	for _, v := range many {
		v.ResolvedAt = ptr(at(6000))
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, many[:n]...) })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		open, err := tx.CountViolations(ctx, funnelwatch.ViolationFilter{Rule: "stage.sla", Open: ptr(true)})
		if open != 0 {
			t.Errorf("after resolving all, %d still open", open)
		}
		return err
	})
}

func violationIDs(vs []*funnelwatch.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return out
}

// violationDiff describes how got differs from want, "" when it does not;
// times compare as instants and JSON as stored text.
func violationDiff(got, want *funnelwatch.Violation) string {
	g, w := *got, *want
	if !g.OpenedAt.Equal(w.OpenedAt) {
		return fmt.Sprintf("opened at %v, want %v", g.OpenedAt, w.OpenedAt)
	}
	if (g.ResolvedAt == nil) != (w.ResolvedAt == nil) || g.ResolvedAt != nil && !g.ResolvedAt.Equal(*w.ResolvedAt) {
		return fmt.Sprintf("resolved at %v, want %v", g.ResolvedAt, w.ResolvedAt)
	}
	if string(g.Evidence) != string(w.Evidence) {
		return fmt.Sprintf("evidence %s, want %s", g.Evidence, w.Evidence)
	}
	g.OpenedAt, g.ResolvedAt, g.Evidence = time.Time{}, nil, nil
	w.OpenedAt, w.ResolvedAt, w.Evidence = time.Time{}, nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
	}
	return ""
}

// testActions: the outbox keeps an action once per key, lists it for the
// dispatcher when due, and records attempts.
func testActions(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	pending, observed, done := funnelwatch.ActionPending, funnelwatch.ActionObserved, funnelwatch.ActionDone
	a1 := &funnelwatch.ActionRecord{Key: "A1", Type: "task", Rule: "sales.target.on_enter", DealID: "D1", At: at(10),
		Payload: json.RawMessage(`{"text":"Позвонить","due":"1h"}`), Status: pending, NextAttemptAt: at(15)}
	batch := []*funnelwatch.ActionRecord{
		a1,
		{Key: "A2", Type: "notify", Rule: "overdue.notify", DealID: "D2", At: at(25), Status: pending}, // the latest, due at once
		{Key: "A3", Type: "move", Rule: "sales.target.on_enter", DealID: "D1", At: at(1), Status: observed},
		{Key: "A4", Type: "webhook", Rule: "won.webhook", DealID: "D2", At: at(20), Status: pending, NextAttemptAt: at(30)},
		{Key: "A5", Type: "task", Rule: "overdue.notify", DealID: "D3", At: at(3), Status: done, Attempts: 1, DoneAt: ptr(at(4))},
		// The same key again within the call: only the first is new.
		{Key: "A1", Type: "move", DealID: "D9", At: at(11), Status: pending},
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		got, err := tx.InsertActions(ctx, batch...)
		if err != nil {
			return err
		}
		if want := []bool{true, true, true, true, true, false}; !reflect.DeepEqual(got, want) {
			t.Errorf("InsertActions = %v, want %v", got, want)
		}
		return nil
	})
	// A second insert of a key leaves the stored action as it was.
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		got, err := tx.InsertActions(ctx,
			&funnelwatch.ActionRecord{Key: "A1", Type: "task", Rule: "sales.target.on_enter", DealID: "D1", At: at(10), Status: done, Attempts: 3},
			&funnelwatch.ActionRecord{Key: "A6", Type: "notify", Rule: "overdue.notify", DealID: "D1", At: at(10), Status: pending, NextAttemptAt: at(15)})
		if err != nil {
			return err
		}
		if want := []bool{false, true}; !reflect.DeepEqual(got, want) {
			t.Errorf("second InsertActions = %v, want %v", got, want)
		}
		return nil
	})
	// The same key in another workspace is another action.
	update(t, s, other, func(tx funnelwatch.Tx) error {
		got, err := tx.InsertActions(ctx, &funnelwatch.ActionRecord{Key: "A1", Type: "move", At: at(0), Status: pending})
		if err == nil && !reflect.DeepEqual(got, []bool{true}) {
			t.Errorf("A1 in another workspace: InsertActions = %v, want new", got)
		}
		return err
	})

	// A1–A6 here (A1 kept pending), A1 alone in the other workspace.
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.ActionCounts(ctx)
		want := map[funnelwatch.ActionStatus]int{pending: 4, observed: 1, done: 1}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("ActionCounts = %v, want %v", got, want)
		}
		return err
	})

	list := func(tx funnelwatch.ReadTx, f funnelwatch.ActionFilter) []string {
		t.Helper()
		as, err := tx.Actions(ctx, f)
		if err != nil {
			t.Fatalf("Actions(%+v): %v", f, err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.Key)
		}
		return out
	}
	cases := []struct {
		name string
		f    funnelwatch.ActionFilter
		want []string
	}{
		// By time, ties (A1 and A6 at 10) by key.
		{"everything", funnelwatch.ActionFilter{}, []string{"A3", "A5", "A1", "A6", "A4", "A2"}},
		{"a deal", funnelwatch.ActionFilter{DealID: "D1"}, []string{"A3", "A1", "A6"}},
		{"a rule", funnelwatch.ActionFilter{Rule: "overdue.notify"}, []string{"A5", "A6", "A2"}},
		{"a type", funnelwatch.ActionFilter{Type: "task"}, []string{"A5", "A1"}},
		{"a status", funnelwatch.ActionFilter{Status: observed}, []string{"A3"}},
		{"a page", funnelwatch.ActionFilter{Offset: 2, Limit: 2}, []string{"A1", "A6"}},
		{"the rest", funnelwatch.ActionFilter{Offset: 4}, []string{"A4", "A2"}},
		// Pending and due by 15, by next attempt (none first, though A2
		// is the latest action), then key; A4 is due later, A3 and A5 are
		// not pending.
		{"due", funnelwatch.ActionFilter{DueBy: at(15)}, []string{"A2", "A1", "A6"}},
		{"due, the first", funnelwatch.ActionFilter{DueBy: at(15), Limit: 1}, []string{"A2"}},
		{"due, of a deal", funnelwatch.ActionFilter{DueBy: at(15), DealID: "D1"}, []string{"A1", "A6"}},
		{"due later", funnelwatch.ActionFilter{DueBy: at(30)}, []string{"A2", "A1", "A6", "A4"}},
		{"due before anything", funnelwatch.ActionFilter{DueBy: at(14), Type: "webhook"}, nil},
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range cases {
			if got := list(tx, c.f); !reflect.DeepEqual(got, c.want) {
				t.Errorf("%s: Actions = %v, want %v", c.name, got, c.want)
			}
		}
		got, err := tx.Action(ctx, "A1")
		if err != nil {
			return err
		}
		if d := actionDiff(got, a1); d != "" {
			t.Errorf("A1 does not round-trip (or a repeat changed it): %s", d)
		}
		got, err = tx.Action(ctx, "A5")
		if err != nil {
			return err
		}
		if d := actionDiff(got, &funnelwatch.ActionRecord{Key: "A5", Type: "task", Rule: "overdue.notify", DealID: "D3", At: at(3),
			Payload: json.RawMessage(`{}`), Status: done, Attempts: 1, DoneAt: ptr(at(4))}); d != "" {
			t.Errorf("A5 does not round-trip: %s", d)
		}
		if got, _ := tx.Action(ctx, "A2"); got == nil || !got.NextAttemptAt.IsZero() {
			t.Errorf("A2 without a next attempt reads back %+v, want a zero NextAttemptAt", got)
		}
		if _, err := tx.Action(ctx, "nope"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("Action(nope) err = %v, want not found", err)
		}
		return nil
	})
	view(t, s, other, func(tx funnelwatch.ReadTx) error {
		if got := list(tx, funnelwatch.ActionFilter{}); !reflect.DeepEqual(got, []string{"A1"}) {
			t.Errorf("other workspace's actions = %v, want its own A1", got)
		}
		if got, err := tx.Action(ctx, "A1"); err != nil || got.Type != "move" {
			t.Errorf("other workspace's A1 = %+v, %v", got, err)
		}
		return nil
	})

	// A failed attempt moves the next one later; the next succeeds.
	retry := *a1
	retry.Attempts, retry.NextAttemptAt, retry.LastError = 1, at(25), "503 Service Unavailable"
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.UpdateAction(ctx, &retry) })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Action(ctx, "A1")
		if err != nil {
			return err
		}
		if d := actionDiff(got, &retry); d != "" {
			t.Errorf("after a failed attempt: %s", d)
		}
		if due := list(tx, funnelwatch.ActionFilter{DueBy: at(15)}); !reflect.DeepEqual(due, []string{"A2", "A6"}) {
			t.Errorf("due by 15 after A1's retry was set to 25: %v, want A2, A6", due)
		}
		return nil
	})
	delivered := retry
	// Only the delivery columns change: a changed type is not written.
	delivered.Type = "ignored"
	delivered.Status, delivered.Attempts, delivered.NextAttemptAt, delivered.LastError, delivered.DoneAt = done, 2, time.Time{}, "", ptr(at(26))
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.UpdateAction(ctx, &delivered) })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Action(ctx, "A1")
		if err != nil {
			return err
		}
		want := delivered
		want.Type = a1.Type
		if d := actionDiff(got, &want); d != "" {
			t.Errorf("after delivery: %s", d)
		}
		if due := list(tx, funnelwatch.ActionFilter{DueBy: at(30)}); !reflect.DeepEqual(due, []string{"A2", "A6", "A4"}) {
			t.Errorf("due by 30 after A1 was delivered: %v, want A2, A6, A4", due)
		}
		return nil
	})
	err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error {
		_, err := tx.InsertActions(ctx, &funnelwatch.ActionRecord{Key: "A7", Type: "webhook", Payload: json.RawMessage(`{"url":`)})
		return err
	})
	if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID {
		t.Errorf("InsertActions with a broken payload: err = %v, want invalid", err)
	}
	err = s.Update(ctx, ws, func(tx funnelwatch.Tx) error {
		return tx.UpdateAction(ctx, &funnelwatch.ActionRecord{Key: "nope", Status: done})
	})
	if funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
		t.Errorf("UpdateAction(nope) err = %v, want not found", err)
	}
	// A4 is only in this workspace.
	err = s.Update(ctx, other, func(tx funnelwatch.Tx) error {
		return tx.UpdateAction(ctx, &funnelwatch.ActionRecord{Key: "A4", Status: done})
	})
	if funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
		t.Errorf("UpdateAction(A4) from another workspace err = %v, want not found", err)
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		if got, err := tx.Action(ctx, "A4"); err != nil || got.Status != pending {
			t.Errorf("A4 after another workspace's update = %+v, %v; want pending", got, err)
		}
		return nil
	})
}

// testActionsMany: hundreds of actions in one call, in every chunk size,
// some of them repeats within the call or of stored keys.
func testActionsMany(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		_, err := tx.InsertActions(ctx, &funnelwatch.ActionRecord{Key: "K0100", Type: "task", At: at(0), Status: funnelwatch.ActionDone})
		return err
	})
	var as []*funnelwatch.ActionRecord
	var want []bool
	for i := range 700 {
		key := fmt.Sprintf("K%04d", i)
		if i%7 == 6 {
			key = fmt.Sprintf("K%04d", i-3) // repeats a key of this call
		}
		as = append(as, &funnelwatch.ActionRecord{Key: key, Type: "notify", At: at(i), Status: funnelwatch.ActionPending})
		want = append(want, i%7 != 6 && i != 100)
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		got, err := tx.InsertActions(ctx, as...)
		if err != nil {
			return err
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("InsertActions: %s at %d new = %v, want %v", as[i].Key, i, got[i], want[i])
			}
		}
		return nil
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		all, err := tx.Actions(ctx, funnelwatch.ActionFilter{})
		if err != nil {
			return err
		}
		if n := 700 - 700/7; len(all) != n {
			t.Errorf("stored %d actions, want %d", len(all), n)
		}
		k100, err := tx.Action(ctx, "K0100")
		if err == nil && (k100.Status != funnelwatch.ActionDone || k100.Type != "task") {
			t.Errorf("K0100 was stored before; after a repeat it is %+v", k100)
		}
		return err
	})
}

// actionDiff describes how got differs from want, "" when it does not.
func actionDiff(got, want *funnelwatch.ActionRecord) string {
	g, w := *got, *want
	if !g.At.Equal(w.At) || !g.NextAttemptAt.Equal(w.NextAttemptAt) || g.NextAttemptAt.IsZero() != w.NextAttemptAt.IsZero() {
		return fmt.Sprintf("at %v next %v, want at %v next %v", g.At, g.NextAttemptAt, w.At, w.NextAttemptAt)
	}
	if (g.DoneAt == nil) != (w.DoneAt == nil) || g.DoneAt != nil && !g.DoneAt.Equal(*w.DoneAt) {
		return fmt.Sprintf("done at %v, want %v", g.DoneAt, w.DoneAt)
	}
	if string(g.Payload) != string(w.Payload) {
		return fmt.Sprintf("payload %s, want %s", g.Payload, w.Payload)
	}
	g.At, g.NextAttemptAt, g.DoneAt, g.Payload = time.Time{}, time.Time{}, nil, nil
	w.At, w.NextAttemptAt, w.DoneAt, w.Payload = time.Time{}, time.Time{}, nil, nil
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
	}
	return ""
}

func testEngineState(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	get := func(ws string) funnelwatch.EngineState {
		t.Helper()
		var st funnelwatch.EngineState
		view(t, s, ws, func(tx funnelwatch.ReadTx) (err error) {
			st, err = tx.EngineState(ctx)
			return err
		})
		return st
	}
	if st := get(ws); st != (funnelwatch.EngineState{}) {
		t.Errorf("EngineState before any = %+v, want zero", st)
	}
	set := funnelwatch.EngineState{Seq: 42, Clock: at(10), ObserveUntil: at(5)}
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SetEngineState(ctx, set) })
	if st := get(ws); st.Seq != 42 || !st.Clock.Equal(at(10)) || !st.ObserveUntil.Equal(at(5)) {
		t.Errorf("EngineState = %+v, want %+v", st, set)
	}
	// A later checkpoint replaces it; a zero time stays zero.
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SetEngineState(ctx, funnelwatch.EngineState{Seq: 43, Clock: at(11)})
	})
	if st := get(ws); st.Seq != 43 || !st.Clock.Equal(at(11)) || !st.ObserveUntil.IsZero() {
		t.Errorf("EngineState after the second = %+v, want seq 43, clock at 11, no ObserveUntil", st)
	}
	if st := get(other); st != (funnelwatch.EngineState{}) {
		t.Errorf("another workspace's EngineState = %+v, want zero", st)
	}
}

// testEngineSnapshot: a snapshot larger than a stored part comes back
// whole, a later one replaces it (a smaller one leaves no part of the
// larger behind), and other workspaces see none.
func testEngineSnapshot(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	get := func(ws string) funnelwatch.EngineSnapshot {
		t.Helper()
		var snap funnelwatch.EngineSnapshot
		view(t, s, ws, func(tx funnelwatch.ReadTx) (err error) {
			snap, err = tx.EngineSnapshot(ctx)
			return err
		})
		return snap
	}
	if snap := get(ws); snap.Seq != 0 || snap.Data != nil || snap.Format != "" {
		t.Errorf("EngineSnapshot before any = %+v, want zero", snap)
	}
	big := make([]byte, 9<<20+123) // many parts, the last one short
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	first := funnelwatch.EngineSnapshot{Seq: 41, Format: "engine/1", Digest: "d1", Data: big}
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SetEngineSnapshot(ctx, first) })
	if snap := get(ws); snap.Seq != 41 || snap.Format != "engine/1" || snap.Digest != "d1" || !bytes.Equal(snap.Data, big) {
		t.Errorf("EngineSnapshot = seq %d format %q digest %q, %d bytes (equal: %v), want seq 41, %d bytes",
			snap.Seq, snap.Format, snap.Digest, len(snap.Data), bytes.Equal(snap.Data, big), len(big))
	}
	second := funnelwatch.EngineSnapshot{Seq: 90, Format: "engine/1", Digest: "d2", Data: []byte("small")}
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SetEngineSnapshot(ctx, second) })
	if snap := get(ws); snap.Seq != 90 || snap.Digest != "d2" || string(snap.Data) != "small" {
		t.Errorf("EngineSnapshot after the second = seq %d digest %q data %q, want 90, d2, small", snap.Seq, snap.Digest, snap.Data)
	}
	if snap := get(other); snap.Seq != 0 || snap.Data != nil {
		t.Errorf("another workspace's EngineSnapshot = %+v, want zero", snap)
	}
}

// testActiveDeals: the deals open at some moment of [100, 200).
func testActiveDeals(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	deal := func(id, responsible string, created int, closed, deleted *time.Time) *funnelwatch.Deal {
		status := funnelwatch.DealOpen
		if closed != nil {
			status = funnelwatch.DealWon
		}
		return &funnelwatch.Deal{ID: id, Pipeline: "sales", Stage: "target", Status: status, Responsible: responsible,
			CreatedAt: at(created), ClosedAt: closed, DeletedAt: deleted}
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveDeals(ctx,
			deal("D1", "roman", 0, nil, nil),            // open throughout
			deal("D2", "roman", 0, ptr(at(50)), nil),    // closed before
			deal("D3", "olga", 0, ptr(at(100)), nil),    // closed at the start
			deal("D4", "olga", 150, nil, nil),           // created within
			deal("D5", "roman", 200, nil, nil),          // created at the end
			deal("D6", "olga", 0, nil, ptr(at(90))),     // deleted before
			deal("D7", "sergey", 0, nil, ptr(at(150))),  // deleted within
			deal("D8", "roman", 120, ptr(at(130)), nil), // created and closed within
			deal("D9", "", 150, nil, nil),               // nobody's
		)
	})
	update(t, s, other, func(tx funnelwatch.Tx) error { return tx.SaveDeals(ctx, deal("D1", "roman", 0, nil, nil)) })
	cases := []struct {
		name     string
		from, to time.Time
		want     funnelwatch.ActiveDeals
	}{
		{"the period", at(100), at(200), funnelwatch.ActiveDeals{Total: 6, ByResponsible: map[string]int{"roman": 2, "olga": 2, "sergey": 1, "": 1}}},
		{"no lower bound", time.Time{}, at(200), funnelwatch.ActiveDeals{Total: 8, ByResponsible: map[string]int{"roman": 3, "olga": 3, "sergey": 1, "": 1}}},
		{"no upper bound", at(100), time.Time{}, funnelwatch.ActiveDeals{Total: 7, ByResponsible: map[string]int{"roman": 3, "olga": 2, "sergey": 1, "": 1}}},
		{"all time", time.Time{}, time.Time{}, funnelwatch.ActiveDeals{Total: 9, ByResponsible: map[string]int{"roman": 4, "olga": 3, "sergey": 1, "": 1}}},
		{"before anything", at(-20), at(-10), funnelwatch.ActiveDeals{Total: 0, ByResponsible: map[string]int{}}},
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range cases {
			got, err := tx.ActiveDeals(ctx, c.from, c.to)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if got.Total != c.want.Total || len(got.ByResponsible) != len(c.want.ByResponsible) {
				t.Errorf("%s: ActiveDeals = %+v, want %+v", c.name, got, c.want)
				continue
			}
			for user, n := range c.want.ByResponsible {
				if got.ByResponsible[user] != n {
					t.Errorf("%s: ActiveDeals = %+v, want %+v", c.name, got, c.want)
					break
				}
			}
		}
		return nil
	})
	view(t, s, other, func(tx funnelwatch.ReadTx) error {
		got, err := tx.ActiveDeals(ctx, at(100), at(200))
		if got.Total != 1 || got.ByResponsible["roman"] != 1 {
			t.Errorf("other workspace's ActiveDeals = %+v, want its one deal", got)
		}
		return err
	})
}
