// Package storetest is the conformance suite every funnelwatch.Store
// passes: the SQLite and PostgreSQL stores run the same tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// Opener returns a store for one test; the suite gives each test its own
// workspace, so stores may be shared between tests.
type Opener func(t testing.TB) funnelwatch.Store

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	t.Run("EventLog", func(t *testing.T) { testEventLog(t, open) })
	t.Run("WorkspaceScope", func(t *testing.T) { testWorkspaceScope(t, open) })
	t.Run("Rollback", func(t *testing.T) { testRollback(t, open) })
	t.Run("Deals", func(t *testing.T) { testDeals(t, open) })
	t.Run("Tasks", func(t *testing.T) { testTasks(t, open) })
	t.Run("CallsNotesContacts", func(t *testing.T) { testActivity(t, open) })
	t.Run("Violations", func(t *testing.T) { testViolations(t, open) })
	t.Run("ViolationUpsert", func(t *testing.T) { testViolationUpsert(t, open) })
	t.Run("Actions", func(t *testing.T) { testActions(t, open) })
	t.Run("ActionsMany", func(t *testing.T) { testActionsMany(t, open) })
	t.Run("EngineState", func(t *testing.T) { testEngineState(t, open) })
	t.Run("EngineSnapshot", func(t *testing.T) { testEngineSnapshot(t, open) })
	t.Run("Notices", func(t *testing.T) { testNotices(t, open) })
	t.Run("ActiveDeals", func(t *testing.T) { testActiveDeals(t, open) })
	t.Run("ViolationGroups", func(t *testing.T) { testViolationGroups(t, open) })
	t.Run("Workload", func(t *testing.T) { testWorkload(t, open) })
	t.Run("Board", func(t *testing.T) { testBoard(t, open) })
	t.Run("OpenTaskGroups", func(t *testing.T) { testOpenTaskGroups(t, open) })
	t.Run("EventCount", func(t *testing.T) { testEventCount(t, open) })
	t.Run("LongRead", func(t *testing.T) { testLongRead(t, open) })
	t.Run("StageVisits", func(t *testing.T) { testStageVisits(t, open) })
	t.Run("ClosedDeals", func(t *testing.T) { testClosedDeals(t, open) })
	t.Run("CallStats", func(t *testing.T) { testCallStats(t, open) })
	t.Run("TaskStats", func(t *testing.T) { testTaskStats(t, open) })
	t.Run("CardChanges", func(t *testing.T) { testCardChanges(t, open) })
	t.Run("Ingest", func(t *testing.T) { RunIngest(t, open) })
	t.Run("StageVisitsIngest", func(t *testing.T) { RunStageVisitsIngest(t, open) })
	t.Run("Lease", func(t *testing.T) { testLease(t, open) })
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open) })
}

var wsCounter int

// workspace creates a fresh workspace for a test.
func workspace(t testing.TB, s funnelwatch.Store) string {
	wsCounter++
	id := fmt.Sprintf("ws-%d-%d", time.Now().UnixNano(), wsCounter)
	if err := s.EnsureWorkspace(context.Background(), id, "Test "+t.Name()); err != nil {
		t.Fatalf("EnsureWorkspace: %v", err)
	}
	return id
}

func update(t testing.TB, s funnelwatch.Store, ws string, fn func(funnelwatch.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), ws, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t testing.TB, s funnelwatch.Store, ws string, fn func(funnelwatch.ReadTx) error) {
	t.Helper()
	if err := s.View(context.Background(), ws, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

var base = time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }

func ptr[T any](v T) *T { return &v }

func testEventLog(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	events := []funnelwatch.Event{
		{ID: "e1", Type: funnelwatch.EventDealCreated, At: at(10), Deal: &funnelwatch.DealPayload{ID: "D1", Pipeline: "sales", Stage: "target"}},
		{ID: "e2", Type: funnelwatch.EventNoteAdded, At: at(5), DealID: "D1", Note: &funnelwatch.NotePayload{ID: "N1", DealID: "D1", Text: "раньше"}},
		{ID: "e3", Type: funnelwatch.EventDealStageChanged, At: at(10), DealID: "D1", ToStage: "contact"},
		{ID: "e4", Type: funnelwatch.EventDealCreated, At: at(1), Deal: &funnelwatch.DealPayload{ID: "D2", Pipeline: "sales"}},
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		var last int64
		for i := range events {
			events[i].ReceivedAt = at(60)
			ok, err := tx.InsertEvent(ctx, &events[i])
			if err != nil {
				return err
			}
			if !ok {
				t.Errorf("InsertEvent(%s) reported a duplicate on first insert", events[i].ID)
			}
			if events[i].Seq <= last {
				t.Errorf("seq %d of %s does not grow past %d", events[i].Seq, events[i].ID, last)
			}
			last = events[i].Seq
		}
		dup := funnelwatch.Event{ID: "e1", Type: funnelwatch.EventDealUpdated, At: at(20), DealID: "D1"}
		ok, err := tx.InsertEvent(ctx, &dup)
		if err != nil {
			return err
		}
		if ok {
			t.Error("InsertEvent of a repeated id was stored again")
		}
		return nil
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Events(ctx, funnelwatch.EventFilter{DealID: "D1"})
		if err != nil {
			return err
		}
		// Event time first, ties in arrival order.
		want := []string{"e2", "e1", "e3"}
		if len(got) != len(want) {
			t.Fatalf("Events(D1) = %d events, want %d", len(got), len(want))
		}
		for i, e := range got {
			if e.ID != want[i] {
				t.Errorf("Events(D1)[%d] = %s, want %s", i, e.ID, want[i])
			}
		}
		if got[1].Deal == nil || got[1].Deal.Stage != "target" || !got[1].At.Equal(at(10)) || !got[1].ReceivedAt.Equal(at(60)) {
			t.Errorf("stored event does not round-trip: %+v", got[1])
		}
		if got[0].Note == nil || got[0].Note.Text != "раньше" {
			t.Errorf("note payload lost: %+v", got[0])
		}
		all, err := tx.Events(ctx, funnelwatch.EventFilter{})
		if err != nil {
			return err
		}
		if len(all) != 4 || all[0].ID != "e4" {
			t.Errorf("Events() = %d, first %v; want 4 with e4 first", len(all), all[0].ID)
		}
		window, err := tx.Events(ctx, funnelwatch.EventFilter{From: at(5), To: at(10)})
		if err != nil {
			return err
		}
		if len(window) != 1 || window[0].ID != "e2" {
			t.Errorf("Events(from 5, to 10) = %v, want just e2", ids(window))
		}
		n, err := tx.EventCount(ctx)
		if err != nil {
			return err
		}
		if n != 4 {
			t.Errorf("EventCount = %d, want 4", n)
		}
		// More ids than one IN list may hold.
		many := make([]string, 1200)
		for i := range many {
			many[i] = fmt.Sprintf("x%d", i)
		}
		many[700], many[1100] = "e3", "e4"
		found, err := tx.ExistingEventIDs(ctx, many)
		if err != nil {
			return err
		}
		if len(found) != 2 || !found["e3"] || !found["e4"] {
			t.Errorf("ExistingEventIDs = %v, want e3 and e4", found)
		}
		return nil
	})
}

func ids(events []funnelwatch.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

func testWorkspaceScope(t *testing.T, open Opener) {
	s := open(t)
	a, b := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	update(t, s, a, func(tx funnelwatch.Tx) error {
		if _, err := tx.InsertEvent(ctx, &funnelwatch.Event{ID: "same", Type: funnelwatch.EventDealDeleted, At: at(0), DealID: "D1"}); err != nil {
			return err
		}
		return tx.SaveDeals(ctx, &funnelwatch.Deal{ID: "D1", Pipeline: "sales", Stage: "target", Status: funnelwatch.DealOpen, CreatedAt: at(0)})
	})
	update(t, s, b, func(tx funnelwatch.Tx) error {
		// The same event id in another workspace is not a duplicate.
		ok, err := tx.InsertEvent(ctx, &funnelwatch.Event{ID: "same", Type: funnelwatch.EventDealDeleted, At: at(0), DealID: "D9"})
		if err == nil && !ok {
			t.Error("event id of workspace A counted as a duplicate in workspace B")
		}
		return err
	})
	view(t, s, b, func(tx funnelwatch.ReadTx) error {
		if _, err := tx.Deal(ctx, "D1"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("Deal(D1) from workspace B: err = %v, want not found", err)
		}
		n, err := tx.EventCount(ctx)
		if n != 1 {
			t.Errorf("EventCount in B = %d, want 1", n)
		}
		return err
	})
}

func testRollback(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error {
		if _, err := tx.InsertEvent(ctx, &funnelwatch.Event{ID: "r1", Type: funnelwatch.EventDealDeleted, At: at(0), DealID: "D1"}); err != nil {
			return err
		}
		if err := tx.SaveDeals(ctx, &funnelwatch.Deal{ID: "D1", Pipeline: "p", Stage: "s", Status: funnelwatch.DealOpen}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want boom", err)
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		n, err := tx.EventCount(ctx)
		if n != 0 {
			t.Errorf("after rollback EventCount = %d, want 0", n)
		}
		if _, err := tx.Deal(ctx, "D1"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("after rollback Deal(D1) err = %v, want not found", err)
		}
		return err
	})
}

func testDeals(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	closed := at(90)
	d1 := &funnelwatch.Deal{
		ID: "D1", Pipeline: "sales", Stage: "lost", Status: funnelwatch.DealLost, Name: "Иван Петров",
		Responsible: "roman", ContactID: "tel:+79123456789", Amount: 15500.5, Source: "avito",
		Fields: map[string]any{"paid": true, "car": "BMW X5"}, LossReason: "цена",
		CreatedAt: at(0), UpdatedAt: at(90), StageEnteredAt: at(90), PipelineEnteredAt: at(0),
		ClosedAt: &closed, LastEventAt: at(90),
	}
	d2 := &funnelwatch.Deal{ID: "D2", Pipeline: "sales", Stage: "target", Status: funnelwatch.DealOpen,
		Responsible: "olga", Amount: 1000, CreatedAt: at(1), UpdatedAt: at(1), StageEnteredAt: at(1), PipelineEnteredAt: at(1), LastEventAt: at(1)}
	d3 := &funnelwatch.Deal{ID: "D3", Pipeline: "warmup", Stage: "new", Status: funnelwatch.DealOpen,
		Responsible: "olga", Amount: 2000, CreatedAt: at(2), UpdatedAt: at(2), StageEnteredAt: at(2), PipelineEnteredAt: at(2), LastEventAt: at(2), DeletedAt: ptr(at(3))}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		for _, d := range []*funnelwatch.Deal{d1, d2, d3} {
			if err := tx.SaveDeals(ctx, d); err != nil {
				return err
			}
		}
		// A second save replaces the state.
		d2.Stage = "contact"
		return tx.SaveDeals(ctx, d2)
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Deal(ctx, "D1")
		if err != nil {
			return err
		}
		if got.Name != d1.Name || got.Amount != d1.Amount || got.LossReason != "цена" || got.Fields["paid"] != true ||
			got.Fields["car"] != "BMW X5" || got.ClosedAt == nil || !got.ClosedAt.Equal(closed) || got.DeletedAt != nil ||
			!got.StageEnteredAt.Equal(at(90)) || got.Status != funnelwatch.DealLost || got.ContactID != d1.ContactID {
			t.Errorf("Deal(D1) does not round-trip:\n got %+v\nwant %+v", got, d1)
		}
		if got, _ := tx.Deal(ctx, "D2"); got == nil || got.Stage != "contact" {
			t.Errorf("Deal(D2) after re-save = %+v, want stage contact", got)
		}
		if _, err := tx.Deal(ctx, "nope"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("Deal(nope) err = %v, want not found", err)
		}
		byOlga, err := tx.Deals(ctx, funnelwatch.DealFilter{Responsible: "olga"})
		if err != nil {
			return err
		}
		if len(byOlga) != 1 || byOlga[0].ID != "D2" {
			t.Errorf("Deals(olga) = %d deals, want only D2 (D3 is deleted)", len(byOlga))
		}
		team, err := tx.Deals(ctx, funnelwatch.DealFilter{Responsibles: []string{"olga", "roman"}, IncludeDeleted: true})
		if err != nil {
			return err
		}
		if len(team) != 3 {
			t.Errorf("Deals(olga and roman, deleted too) = %d deals, want 3", len(team))
		}
		withDeleted, err := tx.Deals(ctx, funnelwatch.DealFilter{Responsible: "olga", IncludeDeleted: true})
		if err != nil {
			return err
		}
		if len(withDeleted) != 2 {
			t.Errorf("Deals(olga, deleted too) = %d, want 2", len(withDeleted))
		}
		open, err := tx.Deals(ctx, funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Pipeline: "sales"})
		if err != nil {
			return err
		}
		if len(open) != 1 || open[0].ID != "D2" {
			t.Errorf("open sales deals = %d, want D2", len(open))
		}
		paged, err := tx.Deals(ctx, funnelwatch.DealFilter{IncludeDeleted: true, Offset: 1, Limit: 1})
		if err != nil {
			return err
		}
		if len(paged) != 1 || paged[0].ID != "D2" {
			t.Errorf("Deals(offset 1, limit 1) = %v, want D2", paged)
		}
		counts, err := tx.StageCounts(ctx)
		if err != nil {
			return err
		}
		want := map[string]funnelwatch.StageCount{
			"sales/contact": {Pipeline: "sales", Stage: "contact", Deals: 1, Amount: 1000},
			"sales/lost":    {Pipeline: "sales", Stage: "lost", Deals: 1, Amount: 15500.5},
		}
		if len(counts) != len(want) {
			t.Errorf("StageCounts = %+v, want %+v", counts, want)
		}
		for _, c := range counts {
			if want[c.Pipeline+"/"+c.Stage] != c {
				t.Errorf("StageCount %+v, want %+v", c, want[c.Pipeline+"/"+c.Stage])
			}
		}
		return nil
	})
}

func testTasks(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	tasks := []*funnelwatch.Task{
		{ID: "T1", DealID: "D1", Assignee: "roman", Kind: "call", Text: "Позвонить", Due: ptr(at(30)), CreatedAt: at(0), CreatedBy: "rule:sales.target.on_enter"},
		{ID: "T2", DealID: "D1", Assignee: "roman", Text: "Без срока", CreatedAt: at(1)},
		{ID: "T3", DealID: "D2", Assignee: "olga", Due: ptr(at(10)), CreatedAt: at(2), CompletedAt: ptr(at(5)), Result: "Дозвонилась", Reschedules: 2},
		{ID: "T4", DealID: "D2", Assignee: "roman", Due: ptr(at(20)), CreatedAt: at(2), CompletedAt: ptr(at(6)), Deleted: true},
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		for _, task := range tasks {
			if err := tx.SaveTasks(ctx, task); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		got, err := tx.Task(ctx, "T3")
		if err != nil {
			return err
		}
		if got.Result != "Дозвонилась" || got.CompletedAt == nil || !got.CompletedAt.Equal(at(5)) || got.Reschedules != 2 || got.Open() {
			t.Errorf("Task(T3) = %+v", got)
		}
		if got, _ := tx.Task(ctx, "T4"); got == nil || !got.Deleted {
			t.Errorf("Task(T4).Deleted lost: %+v", got)
		}
		if got, _ := tx.Task(ctx, "T2"); got == nil || got.Due != nil {
			t.Errorf("Task(T2) due should be nil: %+v", got)
		}
		if _, err := tx.Task(ctx, "T9"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("Task(T9) err = %v, want not found", err)
		}
		romans, err := tx.Tasks(ctx, funnelwatch.TaskFilter{Assignee: "roman", Open: ptr(true)})
		if err != nil {
			return err
		}
		// Due first (earliest first), tasks without a due date last.
		if len(romans) != 2 || romans[0].ID != "T1" || romans[1].ID != "T2" {
			t.Errorf("roman's open tasks = %v, want T1, T2", taskIDs(romans))
		}
		done, err := tx.Tasks(ctx, funnelwatch.TaskFilter{DealID: "D2", Open: ptr(false)})
		if err != nil {
			return err
		}
		if len(done) != 2 || done[0].ID != "T3" {
			t.Errorf("D2 closed tasks = %v, want T3, T4", taskIDs(done))
		}
		limited, err := tx.Tasks(ctx, funnelwatch.TaskFilter{Limit: 1, Offset: 1})
		if err != nil {
			return err
		}
		if len(limited) != 1 || limited[0].ID != "T4" {
			t.Errorf("Tasks(offset 1, limit 1) = %v, want T4", taskIDs(limited))
		}
		return nil
	})
}

func taskIDs(ts []*funnelwatch.Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func testActivity(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		for _, c := range []*funnelwatch.Call{
			{ID: "C2", User: "roman", DealID: "D1", Direction: "out", Phone: "+79123456789", StartedAt: at(50), DurationS: 75, Answered: true, RecordingURL: "https://rec/2"},
			{ID: "C1", DealID: "D1", Direction: "in", Phone: "+79123456789", StartedAt: at(10)},
			{ID: "C3", DealID: "D2", Direction: "in", StartedAt: at(5)},
		} {
			if err := tx.InsertCalls(ctx, c); err != nil {
				return err
			}
		}
		for _, n := range []*funnelwatch.Note{
			{ID: "N1", DealID: "D1", Author: "roman", Text: "Связался", At: at(51)},
			{ID: "N0", DealID: "D1", Author: "roman", Text: "Клиент просит перезвонить завтра после 15:00", At: at(11)},
		} {
			if err := tx.InsertNotes(ctx, n); err != nil {
				return err
			}
		}
		if err := tx.SaveContacts(ctx, &funnelwatch.Contact{ID: "tel:+79123456789", Name: "Иван", Phones: []string{"+79123456789"}}); err != nil {
			return err
		}
		// A later deal of the same client adds an e-mail and keeps the name.
		if err := tx.SaveContacts(ctx, &funnelwatch.Contact{ID: "tel:+79123456789", Phones: []string{"+79123456789"}, Emails: []string{"ivan@example.com"}}); err != nil {
			return err
		}
		for _, d := range []*funnelwatch.Deal{
			{ID: "D1", Pipeline: "sales", Stage: "won", Status: funnelwatch.DealWon, ContactID: "tel:+79123456789", CreatedAt: at(0)},
			{ID: "D5", Pipeline: "sales", Stage: "target", Status: funnelwatch.DealOpen, ContactID: "tel:+79123456789", CreatedAt: at(-100)},
			{ID: "D6", Pipeline: "sales", Stage: "target", Status: funnelwatch.DealOpen, ContactID: "tel:+79123456789", CreatedAt: at(100), DeletedAt: ptr(at(101))},
		} {
			if err := tx.SaveDeals(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		calls, err := tx.Calls(ctx, "D1")
		if err != nil {
			return err
		}
		if len(calls) != 2 || calls[0].ID != "C1" || calls[1].DurationS != 75 || !calls[1].Answered || calls[0].Answered || calls[1].RecordingURL != "https://rec/2" {
			t.Errorf("Calls(D1) = %+v", calls)
		}
		notes, err := tx.Notes(ctx, "D1")
		if err != nil {
			return err
		}
		if len(notes) != 2 || notes[0].ID != "N0" || notes[1].Text != "Связался" {
			t.Errorf("Notes(D1) = %+v", notes)
		}
		c, err := tx.Contact(ctx, "tel:+79123456789")
		if err != nil {
			return err
		}
		if c.Name != "Иван" || len(c.Phones) != 1 || len(c.Emails) != 1 || c.Emails[0] != "ivan@example.com" {
			t.Errorf("merged contact = %+v", c)
		}
		if _, err := tx.Contact(ctx, "tel:+70000000000"); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
			t.Errorf("unknown contact err = %v", err)
		}
		// The open deal wins over a later closed one; deleted deals never.
		d, err := tx.LatestDealOfContact(ctx, "tel:+79123456789")
		if err != nil {
			return err
		}
		if d.ID != "D5" {
			t.Errorf("LatestDealOfContact = %s, want the open D5", d.ID)
		}
		return nil
	})
}

// testLease: one holder at a time; the next one gets it on release.
func testLease(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	release, err := s.Lease(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	// Another holder (in production, another process) waits.
	short, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	if _, err := s.Lease(short, ws); err == nil {
		t.Fatal("a second lease on the same workspace was granted")
	}
	// Another workspace is free.
	other, err := s.Lease(ctx, workspace(t, s))
	if err != nil {
		t.Fatalf("lease on another workspace: %v", err)
	}
	if err := other(); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := s.Lease(ctx, ws)
		if err == nil {
			err = r()
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiting lease after release: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting lease was not granted after release")
	}
}
