package storetest

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// testViolationGroups checks that the store's grouped counts equal the
// grouping of the findings it lists (funnelwatch.GroupViolationList): the
// scan the quality report made before it counted in SQL.
func testViolationGroups(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	saved := findings()
	// A second open finding of D1 with more money at risk, and one about
	// no deal.
	more := &funnelwatch.Violation{ID: "V7", Rule: "task.overdue", Severity: funnelwatch.SeverityViolation, User: "roman",
		Pipeline: "sales", Stage: "target", DealID: "D1", OpenedAt: at(45), MoneyAtRisk: 9000.25}
	none := &funnelwatch.Violation{ID: "V8", Rule: "call.missed", Severity: funnelwatch.SeverityRemark, User: "olga", OpenedAt: at(55)}
	saved = append(saved, more, none)
	update(t, s, ws, func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, saved...) })
	update(t, s, other, func(tx funnelwatch.Tx) error {
		return tx.SaveViolations(ctx, &funnelwatch.Violation{ID: "X1", Rule: "task.overdue", Severity: funnelwatch.SeverityViolation,
			User: "roman", DealID: "D9", OpenedAt: at(2)})
	})
	days := []time.Time{at(0), at(25), at(50), at(100)}
	filters := []struct {
		name string
		f    funnelwatch.ViolationFilter
	}{
		{"all", funnelwatch.ViolationFilter{}},
		{"opened in [10, 60)", funnelwatch.ViolationFilter{From: at(10), To: at(60)}},
		{"opened in [0, 30) of roman and olga", funnelwatch.ViolationFilter{From: at(0), To: at(30), Users: []string{"roman", "olga"}}},
		{"open at 7", funnelwatch.ViolationFilter{OpenAt: at(7)}},
		{"open at 30", funnelwatch.ViolationFilter{OpenAt: at(30)}},
		{"open at 40", funnelwatch.ViolationFilter{OpenAt: at(40)}},
		{"open at 100", funnelwatch.ViolationFilter{OpenAt: at(100)}},
		{"open at 100 of roman", funnelwatch.ViolationFilter{OpenAt: at(100), User: "roman"}},
		{"open at 100 of nobody known", funnelwatch.ViolationFilter{OpenAt: at(100), Users: []string{"ivan"}}},
	}
	groupings := []funnelwatch.ViolationGrouping{{}, {ByDeal: true}, {Days: days}, {Days: days[1:3], ByDeal: true}}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		c, ok := tx.(funnelwatch.ViolationCounter)
		if !ok {
			t.Fatalf("the store's ReadTx is no ViolationCounter")
		}
		for _, fc := range filters {
			listed, err := tx.Violations(ctx, fc.f)
			if err != nil {
				return err
			}
			for _, g := range groupings {
				got, err := c.ViolationGroups(ctx, fc.f, g)
				if err != nil {
					return fmt.Errorf("%s: %w", fc.name, err)
				}
				if want := funnelwatch.GroupViolationList(listed, g); !reflect.DeepEqual(sortGroups(got), sortGroups(want)) {
					t.Errorf("%s, %+v:\n got %+v\nwant %+v", fc.name, g, sortGroups(got), sortGroups(want))
				}
			}
			deals := map[string]bool{}
			for _, v := range listed {
				if v.DealID != "" {
					deals[v.DealID] = true
				}
			}
			if n, err := c.CountViolationDeals(ctx, fc.f); err != nil || n != len(deals) {
				t.Errorf("%s: CountViolationDeals = %d, %v; want %d", fc.name, n, err, len(deals))
			}
		}
		return nil
	})
}

func sortGroups(gs []funnelwatch.ViolationGroup) []funnelwatch.ViolationGroup {
	gs = slices.Clone(gs)
	for i := range gs {
		gs[i].LatestOpenedAt = gs[i].LatestOpenedAt.UTC()
	}
	slices.SortFunc(gs, func(a, b funnelwatch.ViolationGroup) int {
		return cmp.Or(cmp.Compare(a.Pipeline, b.Pipeline), cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.User, b.User),
			cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.Day, b.Day), cmp.Compare(a.DealID, b.DealID))
	})
	if gs == nil {
		gs = []funnelwatch.ViolationGroup{}
	}
	return gs
}

// testWorkload checks the dashboard's two counts: open deals without an
// open task (whoever it is assigned to), open tasks past due.
func testWorkload(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	deal := func(id, responsible string, status funnelwatch.DealStatus, deleted bool) *funnelwatch.Deal {
		d := &funnelwatch.Deal{ID: id, Pipeline: "sales", Stage: "target", Status: status, Responsible: responsible, CreatedAt: at(0)}
		if deleted {
			d.DeletedAt = ptr(at(1))
		}
		return d
	}
	task := func(id, deal, assignee string, due *time.Time, done bool) *funnelwatch.Task {
		tk := &funnelwatch.Task{ID: id, DealID: deal, Assignee: assignee, Due: due, CreatedAt: at(0)}
		if done {
			tk.CompletedAt = ptr(at(5))
		}
		return tk
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		if err := tx.SaveDeals(ctx,
			deal("D1", "roman", funnelwatch.DealOpen, false), // an open task of its own
			deal("D2", "roman", funnelwatch.DealOpen, false), // only a done task: no task
			deal("D3", "olga", funnelwatch.DealOpen, false),  // an open task of sergey's
			deal("D4", "olga", funnelwatch.DealOpen, false),  // no task
			deal("D5", "roman", funnelwatch.DealWon, false),  // closed
			deal("D6", "roman", funnelwatch.DealOpen, true),  // deleted
			deal("D7", "", funnelwatch.DealOpen, false),      // nobody's, no task
		); err != nil {
			return err
		}
		return tx.SaveTasks(ctx,
			task("T1", "D1", "roman", ptr(at(10)), false), // overdue at 20
			task("T2", "D2", "roman", ptr(at(10)), true),  // done
			task("T3", "D3", "sergey", ptr(at(30)), false),
			task("T4", "D3", "olga", nil, false),         // no due time
			task("T5", "D5", "olga", ptr(at(15)), false), // overdue at 20, on a closed deal
		)
	})
	update(t, s, other, func(tx funnelwatch.Tx) error {
		return tx.SaveDeals(ctx, deal("D1", "roman", funnelwatch.DealOpen, false))
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range []struct {
			users           []string
			noTask, overdue int
			now             int
		}{
			{nil, 3, 2, 20},
			{[]string{"roman"}, 1, 1, 20},
			{[]string{"olga", "sergey"}, 1, 1, 20},
			{[]string{"olga", "sergey"}, 1, 2, 31},
			{[]string{"ivan"}, 0, 0, 20},
			{nil, 3, 0, 10}, // due at 10 is not before 10
		} {
			noTask, err := tx.DealsWithoutOpenTask(ctx, c.users)
			if err != nil {
				return err
			}
			overdue, err := tx.OverdueTasks(ctx, c.users, at(c.now))
			if err != nil {
				return err
			}
			if noTask != c.noTask || overdue != c.overdue {
				t.Errorf("users %q at %d: %d deals without a task, %d overdue; want %d, %d", c.users, c.now, noTask, overdue, c.noTask, c.overdue)
			}
		}
		return nil
	})
}

// testEventCount checks the kept count of events against the log.
func testEventCount(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	ev := func(id string) *funnelwatch.Event {
		return &funnelwatch.Event{ID: id, Type: funnelwatch.EventNoteAdded, At: at(1), DealID: "D1",
			Note: &funnelwatch.NotePayload{ID: "N" + id, DealID: "D1", Text: "x"}}
	}
	count := func(ws string) int64 {
		var n int64
		view(t, s, ws, func(tx funnelwatch.ReadTx) error {
			var err error
			n, err = tx.EventCount(ctx)
			return err
		})
		return n
	}
	if n := count(ws); n != 0 {
		t.Fatalf("EventCount of an empty log = %d", n)
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		if _, err := tx.InsertEvents(ctx, []*funnelwatch.Event{ev("e1"), ev("e2"), ev("e3")}); err != nil {
			return err
		}
		for _, id := range []string{"e4", "e1"} { // e1 is there already
			if _, err := tx.InsertEvent(ctx, ev(id)); err != nil {
				return err
			}
		}
		return nil
	})
	// A batch with an event already in the log fails and leaves the
	// count as it was.
	err := s.Update(ctx, ws, func(tx funnelwatch.Tx) error {
		_, err := tx.InsertEvents(ctx, []*funnelwatch.Event{ev("e5"), ev("e2")})
		return err
	})
	if funnelwatch.ErrorCode(err) != funnelwatch.ECONFLICT {
		t.Errorf("a batch with a logged event: %v, want ECONFLICT", err)
	}
	update(t, s, other, func(tx funnelwatch.Tx) error {
		_, err := tx.InsertEvents(ctx, []*funnelwatch.Event{ev("e1")})
		return err
	})
	if n := count(ws); n != 4 {
		t.Errorf("EventCount = %d, want 4", n)
	}
	if n := count(other); n != 1 {
		t.Errorf("other workspace's EventCount = %d, want 1", n)
	}
}

// testBoard checks what the deals board reads: open deals counted and
// summed per pipeline and stage, a stage's deals longest on it first,
// and the deals without an open task.
func testBoard(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	deal := func(id, pipeline, stage, responsible string, entered int, amount float64) *funnelwatch.Deal {
		return &funnelwatch.Deal{ID: id, Pipeline: pipeline, Stage: stage, Status: funnelwatch.DealOpen, Responsible: responsible,
			Amount: amount, CreatedAt: at(0), StageEnteredAt: at(entered)}
	}
	won := deal("D8", "sales", "won", "roman", 1, 1000)
	won.Status = funnelwatch.DealWon
	gone := deal("D9", "sales", "target", "roman", 1, 1000)
	gone.DeletedAt = ptr(at(2))
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		if err := tx.SaveDeals(ctx,
			deal("D1", "sales", "target", "roman", 30, 100),
			deal("D2", "sales", "target", "olga", 10, 200), // entered first
			deal("D3", "sales", "target", "roman", 20, 300),
			deal("D4", "sales", "ready", "roman", 5, 400),
			deal("D5", "warmup", "cold", "olga", 7, 0),
			deal("D6", "sales", "target", "roman", 20, 50), // entered with D3: after it by id
			won, gone,
		); err != nil {
			return err
		}
		done := at(40)
		return tx.SaveTasks(ctx,
			&funnelwatch.Task{ID: "T1", DealID: "D1", Assignee: "roman", CreatedAt: at(0)},
			&funnelwatch.Task{ID: "T2", DealID: "D4", Assignee: "sergey", CreatedAt: at(0)}, // someone else's task is a next step too
			&funnelwatch.Task{ID: "T3", DealID: "D3", Assignee: "roman", CreatedAt: at(0), CompletedAt: &done})
	})
	update(t, s, other, func(tx funnelwatch.Tx) error {
		return tx.SaveDeals(ctx, deal("D1", "sales", "target", "roman", 1, 1))
	})
	counts := func(cs []funnelwatch.StageCount) string {
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&b, "%s/%s:%d:%g ", c.Pipeline, c.Stage, c.Deals, c.Amount)
		}
		return strings.TrimSpace(b.String())
	}
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range []struct {
			name string
			f    funnelwatch.DealFilter
			want string
		}{
			{"open deals", funnelwatch.DealFilter{Status: funnelwatch.DealOpen}, "sales/ready:1:400 sales/target:4:650 warmup/cold:1:0"},
			{"every deal not deleted", funnelwatch.DealFilter{}, "sales/ready:1:400 sales/target:4:650 sales/won:1:1000 warmup/cold:1:0"},
			{"roman's", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Responsible: "roman"}, "sales/ready:1:400 sales/target:3:450"},
			{"a team's", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Responsibles: []string{"olga", "ivan"}}, "sales/target:1:200 warmup/cold:1:0"},
			{"without an open task", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, WithoutOpenTask: true}, "sales/target:3:550 warmup/cold:1:0"},
			{"a pipeline's", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Pipeline: "warmup"}, "warmup/cold:1:0"},
			{"nobody's", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Responsible: "ivan"}, ""},
		} {
			got, err := tx.DealCounts(ctx, c.f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if counts(got) != c.want {
				t.Errorf("DealCounts, %s: %s, want %s", c.name, counts(got), c.want)
			}
		}
		for _, c := range []struct {
			name string
			f    funnelwatch.DealFilter
			want []string
		}{
			{"a column", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Pipeline: "sales", Stage: "target", LongestOnStage: true},
				[]string{"D2", "D3", "D6", "D1"}},
			{"its first two", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Pipeline: "sales", Stage: "target", LongestOnStage: true, Limit: 2},
				[]string{"D2", "D3"}},
			{"without an open task", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Pipeline: "sales", Stage: "target", LongestOnStage: true,
				WithoutOpenTask: true}, []string{"D2", "D3", "D6"}},
			{"roman's without an open task, by id", funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Responsible: "roman", WithoutOpenTask: true},
				[]string{"D3", "D6"}},
		} {
			got, err := tx.Deals(ctx, c.f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("Deals, %s: %v, want %v", c.name, ids, c.want)
			}
		}
		return nil
	})
}

// testOpenTaskGroups checks what the tasks page reads: open tasks by due
// range, without a due time, of a team, counted and in order.
func testOpenTaskGroups(t *testing.T, open Opener) {
	s := open(t)
	ws, other := workspace(t, s), workspace(t, s)
	ctx := context.Background()
	task := func(id, assignee string, due int, done bool) *funnelwatch.Task {
		tk := &funnelwatch.Task{ID: id, DealID: "D1", Assignee: assignee, CreatedAt: at(0)}
		if due > 0 {
			tk.Due = ptr(at(due))
		}
		if done {
			tk.CompletedAt = ptr(at(40))
		}
		return tk
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		return tx.SaveTasks(ctx, task("T1", "roman", 10, false), task("T2", "olga", 20, false), task("T3", "roman", 30, false),
			task("T4", "roman", 0, false), task("T5", "olga", 0, false), task("T6", "roman", 15, true), task("T7", "sergey", 5, false))
	})
	update(t, s, other, func(tx funnelwatch.Tx) error { return tx.SaveTasks(ctx, task("T1", "roman", 10, false)) })
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range []struct {
			name  string
			f     funnelwatch.TaskFilter
			want  []string
			count int
		}{
			{"due before 20", funnelwatch.TaskFilter{Open: ptr(true), DueBefore: at(20)}, []string{"T7", "T1"}, 2},
			{"due from 20", funnelwatch.TaskFilter{Open: ptr(true), DueFrom: at(20)}, []string{"T2", "T3"}, 2},
			{"due in [10, 30)", funnelwatch.TaskFilter{Open: ptr(true), DueFrom: at(10), DueBefore: at(30)}, []string{"T1", "T2"}, 2},
			{"without a due time, by assignee", funnelwatch.TaskFilter{Open: ptr(true), NoDue: true}, []string{"T5", "T4"}, 2},
			{"olga's without a due time", funnelwatch.TaskFilter{Open: ptr(true), NoDue: true, Assignees: []string{"olga"}}, []string{"T5"}, 1},
			{"a team's first two due", funnelwatch.TaskFilter{Open: ptr(true), Assignees: []string{"roman", "olga"}, DueBefore: at(100), Limit: 2},
				[]string{"T1", "T2"}, 3},
			{"roman's open, due first", funnelwatch.TaskFilter{Open: ptr(true), Assignee: "roman"}, []string{"T1", "T3", "T4"}, 3},
			{"done", funnelwatch.TaskFilter{Open: ptr(false)}, []string{"T6"}, 1},
		} {
			got, err := tx.Tasks(ctx, c.f)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			var ids []string
			for _, tk := range got {
				ids = append(ids, tk.ID)
			}
			if !reflect.DeepEqual(ids, c.want) {
				t.Errorf("Tasks, %s: %v, want %v", c.name, ids, c.want)
			}
			if n, err := tx.CountTasks(ctx, c.f); err != nil || n != c.count {
				t.Errorf("CountTasks, %s: %d (%v), want %d", c.name, n, err, c.count)
			}
		}
		return nil
	})
}

// testLongRead reads a log long enough to be decoded on several cores:
// every event comes back once, in the order asked for, with its seq, its
// deal and its payload.
func testLongRead(t *testing.T, open Opener) {
	s := open(t)
	ws := workspace(t, s)
	ctx := context.Background()
	const n = 3000
	var evs []*funnelwatch.Event
	for i := range n {
		// Event time runs backwards in blocks of ten, so the two orders
		// differ.
		evs = append(evs, &funnelwatch.Event{ID: fmt.Sprintf("e%04d", i), Type: funnelwatch.EventNoteAdded, At: at(1000 - i/10),
			DealID: fmt.Sprintf("D%d", i%7), Note: &funnelwatch.NotePayload{ID: fmt.Sprintf("N%d", i), DealID: fmt.Sprintf("D%d", i%7), Text: fmt.Sprint("заметка ", i)}})
	}
	update(t, s, ws, func(tx funnelwatch.Tx) error {
		_, err := tx.InsertEvents(ctx, evs)
		return err
	})
	view(t, s, ws, func(tx funnelwatch.ReadTx) error {
		bySeq, err := tx.Events(ctx, funnelwatch.EventFilter{BySeq: true})
		if err != nil {
			return err
		}
		if len(bySeq) != n {
			t.Fatalf("%d events read, want %d", len(bySeq), n)
		}
		for i, e := range bySeq {
			want := evs[i]
			if e.ID != want.ID || e.DealID != want.DealID || e.Note == nil || e.Note.Text != want.Note.Text || !e.At.Equal(want.At) ||
				(i > 0 && e.Seq <= bySeq[i-1].Seq) {
				t.Fatalf("event %d by seq: %s %s %v (seq %d), want %s %s %v", i, e.ID, e.DealID, e.At, e.Seq, want.ID, want.DealID, want.At)
			}
		}
		byTime, err := tx.Events(ctx, funnelwatch.EventFilter{})
		if err != nil {
			return err
		}
		for i := 1; i < len(byTime); i++ {
			a, b := byTime[i-1], byTime[i]
			if a.At.After(b.At) || (a.At.Equal(b.At) && a.Seq >= b.Seq) {
				t.Fatalf("by time, %s (%v, %d) before %s (%v, %d)", a.ID, a.At, a.Seq, b.ID, b.At, b.Seq)
			}
		}
		if len(byTime) != n || byTime[0].ID != "e2990" || byTime[n-1].ID != "e0009" {
			t.Fatalf("by time: %d events from %s to %s, want %d from e2990 to e0009", len(byTime), byTime[0].ID, byTime[len(byTime)-1].ID, n)
		}
		return nil
	})
}
