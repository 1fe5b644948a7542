package report_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/report"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// weekFunnel is the funnel of the week's log (testdata/week_*.ndjson):
// the sales pipeline target → contact → ready → won / lost, with an SLA
// of a day on target and two on contact, none on ready; Роман and Ольга
// are the managers, Сергей their supervisor.
func weekFunnel() *funnelwatch.Funnel {
	f := storetest.Funnel()
	f.Location = msk
	st := f.Pipelines[0].Stages
	st[0].Name, st[0].SLA = "Целевой клиент", 24*time.Hour
	st[1].Name, st[1].SLA = "Контакт установлен", 48*time.Hour
	st[2].Name = "Готов к выдаче"
	return f
}

// readLog reads a part of the week's log.
func readLog(t testing.TB, name string) []funnelwatch.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var out []funnelwatch.Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		e, err := funnelwatch.DecodeEvent([]byte(line))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// weekFindings are findings as the rules engine would have stored them:
// two violations of Роман's in the week, a remark of Ольга's, and a
// violation of hers from the week before.
func weekFindings() []*funnelwatch.Violation {
	f := func(id string, sev funnelwatch.Severity, deal, user string, opened time.Time) *funnelwatch.Violation {
		return &funnelwatch.Violation{ID: id, Rule: "r", Severity: sev, DealID: deal, User: user, Pipeline: "sales",
			Stage: "contact", OpenedAt: opened}
	}
	return []*funnelwatch.Violation{
		f("V1", vio, "D2", "roman", at(time.November, 3, 10, 0)),
		f("V2", vio, "D6", "roman", at(time.November, 5, 13, 0)),
		f("V3", rem, "D5", "olga", at(time.November, 6, 11, 0)),
		f("V4", vio, "D3", "olga", at(time.November, 1, 11, 0)),
	}
}

// openWeek ingests the week's log through the Ingestor into SQLite the
// hard way: part A, then part B — a move of D4 dated before D4's latest
// event, which re-folds D4 — each synced; then part C acknowledged but
// never flushed: the process "dies" and a new store and Ingestor on the
// same file recover it from the log. It returns the store after that.
func openWeek(t *testing.T) (funnelwatch.Store, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureWorkspace(ctx, "w", "Test"); err != nil {
		t.Fatal(err)
	}
	in := &engine.Ingestor{Store: s, Workspace: "w", Funnel: weekFunnel()}
	for _, part := range []string{"week_a.ndjson", "week_b.ndjson", "week_c.ndjson"} {
		events := readLog(t, part)
		res, err := in.Ingest(ctx, events)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Count(engine.Accepted); n != len(events) {
			t.Fatalf("%s: %d of %d accepted: %q", part, n, len(events), res.Reasons)
		}
		if part != "week_c.ndjson" {
			if err := in.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Update(ctx, "w", func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, weekFindings()...) }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	again := &engine.Ingestor{Store: s, Workspace: "w", Funnel: weekFunnel()}
	if err := again.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return s, "w"
}

// WeekFunnel is the funnel report of the week of 2 November (Moscow),
// worked by hand from the log. Where the deals went (dates of November,
// Moscow time; D1 was created on 30 October, D6 on the 1st):
//
//	D1 roman target 30.10 10:00 → contact 02 10:00 → ready 03 10:00 → won 05 10:00
//	D2 roman target 02 12:00 → contact 02 18:00 → lost 04 12:00
//	D3 olga  target 03 09:00 → ready 04 09:00 (skips contact), there now
//	D4 olga  target 04 10:00 → contact 05 10:00 (the late move), there now
//	D5 olga  target 05 10:00 → contact 06 10:00, there now
//	D6 roman target 01 10:00 → contact 01 12:00, there now
//	D7 olga  target 06 15:00, there now
//
// Stage by stage:
//
//   - deals now: target D7 (10 000); contact D6, D4, D5 (40 000, 25 000 and
//     80 000); ready D3 (30 000); won D1; lost D2.
//   - entries in the week: target D2 D3 D4 D5 D7 = 5; contact D1 D2 D4
//     D5 = 4 (D6 entered on the 1st); ready D1 D3 = 2; won D1; lost D2.
//   - exits: target D1 (on the 2nd, after 72 h), D2 (6 h), D3 (24 h),
//     D4 (24 h), D5 (24 h) = 5 — D6 left on the 1st; contact D1 (24 h),
//     D2 (to lost, 42 h) = 2; ready D1 (to won, 48 h) = 1.
//   - times: target mean (72 + 6 + 24 + 24 + 24) / 5 = 30 h, p90 the 5th
//     of 5 (⌈4.5⌉) = 72 h; contact mean 33 h, p90 the 2nd of 2 = 42 h;
//     ready 48 h.
//   - conversion: of target's 5 entries, D2 D4 D5 reached contact and D3
//     ready = 4/5 next, none won; of contact's 4, D1 went to ready and
//     won, D2 lost, D4 D5 still there = 1/4 and 1/4; of ready's 2, D1
//     won = 1/2 and 1/2.
//   - Little's law over 7 days: target 1 deal / (5 exits / 7 days) = 1.4
//     days, against a 1-day SLA = 1.4; contact 3 / (2 / 7) = 10.5 days,
//     SLA 2 days = 5.25; ready 1 / (1 / 7) = 7 days, no SLA: no score.
//   - ladder: contact holds 3 > target's 1: flagged; ready 1 < 3.
//   - previous, 26 October – 2 November: D1 (30.10) and D6 (01.11)
//     entered target, D6 left it after 2 h (D1 only on the 2nd); both
//     reached contact since, D1 won: 2/2 next, 1/2 won. D6 entered
//     contact and is still there: 1 entry, 0 of 1 went on. Nothing else.
const weekFunnelJSON = `{
 "from": "2026-11-02T00:00:00+03:00", "to": "2026-11-09T00:00:00+03:00", "pipeline": "sales", "name": "Основная воронка",
 "stages": [
  {"stage": "target", "name": "Целевой клиент", "type": "open", "deals_now": 1, "amount_now": 10000, "entries": 5, "exits": 5,
   "conversion_next": 0.8, "conversion_won": 0, "avg_hours": 30, "p90_hours": 72, "sla_hours": 24,
   "wait_days": 1.4, "bottleneck": 1.4, "stalled": false, "ladder": false,
   "previous": {"entries": 2, "exits": 1, "conversion_next": 1, "conversion_won": 0.5, "avg_hours": 2, "p90_hours": 2}},
  {"stage": "contact", "name": "Контакт установлен", "type": "open", "deals_now": 3, "amount_now": 145000, "entries": 4, "exits": 2,
   "conversion_next": 0.25, "conversion_won": 0.25, "avg_hours": 33, "p90_hours": 42, "sla_hours": 48,
   "wait_days": 10.5, "bottleneck": 5.25, "stalled": false, "ladder": true,
   "previous": {"entries": 1, "exits": 0, "conversion_next": 0, "conversion_won": 0, "avg_hours": 0, "p90_hours": 0}},
  {"stage": "ready", "name": "Готов к выдаче", "type": "open", "deals_now": 1, "amount_now": 30000, "entries": 2, "exits": 1,
   "conversion_next": 0.5, "conversion_won": 0.5, "avg_hours": 48, "p90_hours": 48, "sla_hours": 0,
   "wait_days": 7, "bottleneck": null, "stalled": false, "ladder": false, "previous": {"entries": 0, "exits": 0, "conversion_next": 0, "conversion_won": 0, "avg_hours": 0, "p90_hours": 0}},
  {"stage": "won", "name": "won", "type": "won", "deals_now": 1, "amount_now": 100000, "entries": 1, "exits": 0,
   "conversion_next": 0, "conversion_won": 0, "avg_hours": 0, "p90_hours": 0, "sla_hours": 0,
   "wait_days": null, "bottleneck": null, "stalled": false, "ladder": false, "previous": {"entries": 0, "exits": 0, "conversion_next": 0, "conversion_won": 0, "avg_hours": 0, "p90_hours": 0}},
  {"stage": "lost", "name": "lost", "type": "lost", "deals_now": 1, "amount_now": 50000, "entries": 1, "exits": 0,
   "conversion_next": 0, "conversion_won": 0, "avg_hours": 0, "p90_hours": 0, "sla_hours": 0,
   "wait_days": null, "bottleneck": null, "stalled": false, "ladder": false, "previous": {"entries": 0, "exits": 0, "conversion_next": 0, "conversion_won": 0, "avg_hours": 0, "p90_hours": 0}}]
}`

// WeekManagers is the managers report of the same week, the clock at its
// end, worked by hand from the log and weekFindings.
//
//   - deals handled (open at some moment of the week): roman D1 D2 D6 =
//     3; olga D3 D4 D5 D7 = 4.
//   - roman won D1 (100 000, created 30.10 10:00, won 05.11 10:00: 6
//     days) and lost D2: win rate 1/2, revenue and average check 100 000,
//     median cycle 6 days. olga closed nothing.
//   - findings of the week: roman V1 V2 (both violations of the week: a
//     share of 1), 2 × 100 / 3 per 100 deals; olga the remark V3 (the
//     only one: share 1), 1 × 100 / 4 = 25; her V4 is of the week before.
//   - roman's calls: out C1 (120 s), C2 (30 s), C3 (not answered), C5
//     (60 s) = 4; in C4 and C7, both missed = 2. Answered 3, successful
//     (≥ 40 s) C1 and C5 = 2, talk 210 s, 70 s a call. C4 (03.11 11:00)
//     was returned by C5 at 11:30: 30 min; C7 never: 1 not returned.
//   - olga's calls: in C6 (200 s), C8 (missed), C9 (45 s) = 3; out C10
//     (40 s, exactly the threshold) = 1. Answered 3, all successful, talk
//     285 s, 95 s a call. C8 (06.11 12:00) was returned when the client
//     got through at 13:30 (C9): 90 min.
//   - cards changed: roman D1 (three moves), D2 (two), D6 (a note) = 3,
//     6 calls / 3 = 2 a card; olga D3, D4 (the update and the late move),
//     D5 = 3, 4 calls / 3.
//   - tasks: roman created T1 T2 T3 = 3 for 3 deals; T2 was done 4 h
//     late and T3 never: 2 overdue, T1 done on time. olga created T4 T5
//     for 4 deals = 0.5; T4 done on time, T5 due after the week.
//   - previous, 26 October – 2 November: roman had D1 (created 30.10)
//     and D6 (01.11) and moved D6 to contact (one card); olga had no
//     deal, and V4, the only violation of that week (a share of 1, but
//     no deal to count it per 100 of). No call, task or closing then.
const weekManagersJSON = `{
 "roman": {"name": "Роман", "deals_handled": 3, "won": 1, "lost": 1, "win_rate": 0.5, "revenue": 100000, "avg_check": 100000,
  "cycle_median_days": 6, "violations": 2, "remarks": 0, "violations_per_100_active_deals": 66.66666666666667,
  "remarks_per_100_active_deals": 0, "violations_share": 1, "remarks_share": 0,
  "calls_in": 2, "calls_out": 4, "calls_answered": 3, "successful_contacts": 2, "talk_time_s": 210, "avg_call_s": 70,
  "missed_calls": 2, "missed_not_returned": 1, "callback_median_minutes": 30,
  "cards_changed": 3, "calls_per_card_changed": 2, "tasks_created": 3, "tasks_per_deal": 1, "overdue_tasks": 2,
  "previous": {"name": "Роман", "deals_handled": 2, "won": 0, "lost": 0, "win_rate": 0, "revenue": 0,
   "avg_check": 0, "cycle_median_days": 0, "violations": 0, "remarks": 0,
   "violations_per_100_active_deals": 0, "remarks_per_100_active_deals": 0, "violations_share": 0,
   "remarks_share": 0, "calls_in": 0, "calls_out": 0, "calls_answered": 0, "successful_contacts": 0,
   "talk_time_s": 0, "avg_call_s": 0, "missed_calls": 0, "missed_not_returned": 0,
   "callback_median_minutes": 0, "cards_changed": 1, "calls_per_card_changed": 0, "tasks_created": 0,
   "tasks_per_deal": 0, "overdue_tasks": 0}},
 "olga": {"name": "Ольга", "deals_handled": 4, "won": 0, "lost": 0, "win_rate": 0, "revenue": 0, "avg_check": 0,
  "cycle_median_days": 0, "violations": 0, "remarks": 1, "violations_per_100_active_deals": 0,
  "remarks_per_100_active_deals": 25, "violations_share": 0, "remarks_share": 1,
  "calls_in": 3, "calls_out": 1, "calls_answered": 3, "successful_contacts": 3, "talk_time_s": 285, "avg_call_s": 95,
  "missed_calls": 1, "missed_not_returned": 0, "callback_median_minutes": 90,
  "cards_changed": 3, "calls_per_card_changed": 1.3333333333333333, "tasks_created": 2, "tasks_per_deal": 0.5, "overdue_tasks": 0,
  "previous": {"name": "Ольга", "deals_handled": 0, "won": 0, "lost": 0, "win_rate": 0, "revenue": 0,
   "avg_check": 0, "cycle_median_days": 0, "violations": 1, "remarks": 0,
   "violations_per_100_active_deals": 0, "remarks_per_100_active_deals": 0, "violations_share": 1,
   "remarks_share": 0, "calls_in": 0, "calls_out": 0, "calls_answered": 0, "successful_contacts": 0,
   "talk_time_s": 0, "avg_call_s": 0, "missed_calls": 0, "missed_not_returned": 0,
   "callback_median_minutes": 0, "cards_changed": 0, "calls_per_card_changed": 0, "tasks_created": 0,
   "tasks_per_deal": 0, "overdue_tasks": 0}}
}`

// sameFigures compares got (marshalled to JSON) with want, numbers within
// a relative 1e-9 (1 / (5 / 7) is not 1.4 to the last bit), and reports
// the first differences.
func sameFigures(t *testing.T, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	var diffs []string
	compareJSON("", g, w, &diffs)
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%d differences:\n%s\ngot %s", len(diffs), strings.Join(diffs, "\n"), b)
	}
}

func compareJSON(path string, g, w any, diffs *[]string) {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			*diffs = append(*diffs, path+": not an object")
			return
		}
		for k := range gv {
			if _, ok := wv[k]; !ok {
				*diffs = append(*diffs, path+"."+k+": not expected")
			}
		}
		for k, x := range wv {
			compareJSON(path+"."+k, gv[k], x, diffs)
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			*diffs = append(*diffs, path+": not an array of the same length")
			return
		}
		for i := range wv {
			compareJSON(path+"["+string(rune('0'+i))+"]", gv[i], wv[i], diffs)
		}
	case float64:
		gv, ok := g.(float64)
		if !ok || math.Abs(gv-wv) > 1e-9*math.Max(1, math.Abs(wv)) {
			*diffs = append(*diffs, path+": got "+jsonText(g)+", want "+jsonText(w))
		}
	default:
		if !reflect.DeepEqual(g, w) {
			*diffs = append(*diffs, path+": got "+jsonText(g)+", want "+jsonText(w))
		}
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFunnelReportWeek(t *testing.T) {
	s, ws := openWeek(t)
	ctx := context.Background()
	err := s.View(ctx, ws, func(tx funnelwatch.ReadTx) error {
		r, err := report.Funnel(ctx, tx, weekFunnel(), "sales", weekFrom, weekTo)
		if err != nil {
			return err
		}
		sameFigures(t, r, weekFunnelJSON)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestManagersReportWeek(t *testing.T) {
	s, ws := openWeek(t)
	ctx := context.Background()
	err := s.View(ctx, ws, func(tx funnelwatch.ReadTx) error {
		r, err := report.Managers(ctx, tx, weekFunnel(), weekFrom, weekTo, weekTo, report.ManagersOptions{})
		if err != nil {
			return err
		}
		sameFigures(t, r.Managers, weekManagersJSON)
		if r.SuccessfulCall != 40*time.Second {
			t.Errorf("threshold %s, want the default 40 s", r.SuccessfulCall)
		}
		// At 60 s, roman's C5 (60 s) still counts and his C1 (120 s);
		// of olga's, only C6 (200 s).
		r, err = report.Managers(ctx, tx, weekFunnel(), weekFrom, weekTo, weekTo, report.ManagersOptions{SuccessfulCall: time.Minute})
		if err != nil {
			return err
		}
		if got := [2]int{r.Managers["roman"].SuccessfulContacts, r.Managers["olga"].SuccessfulContacts}; got != [2]int{2, 1} {
			t.Errorf("successful contacts at 60 s: roman, olga = %v, want 2, 1", got)
		}
		// Asked on Tuesday the 3rd at 15:00 for the whole week, roman's T2
		// (due the 3rd at 12:00, not done by then) is overdue, T3 (due the
		// 5th) not yet.
		r, err = report.Managers(ctx, tx, weekFunnel(), weekFrom, weekTo, at(time.November, 3, 15, 0), report.ManagersOptions{})
		if err != nil {
			return err
		}
		if n := r.Managers["roman"].OverdueTasks; n != 1 {
			t.Errorf("overdue on the 3rd at 15:00: %d, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFunnelReportErrors(t *testing.T) {
	s, ws := openWeek(t)
	ctx := context.Background()
	_ = s.View(ctx, ws, func(tx funnelwatch.ReadTx) error {
		for _, c := range []struct {
			pipeline string
			from, to time.Time
			want     string
		}{
			{"nope", weekFrom, weekTo, `unknown pipeline "nope"`},
			{"sales", weekTo, weekFrom, "must be before"},
			{"sales", weekFrom, weekFrom.AddDate(2, 0, 0), "longer than 366 days"},
		} {
			_, err := report.Funnel(ctx, tx, weekFunnel(), c.pipeline, c.from, c.to)
			if funnelwatch.ErrorCode(err) != funnelwatch.EINVALID || !strings.Contains(funnelwatch.ErrorMessage(err), c.want) {
				t.Errorf("%s %s–%s: %v, want EINVALID %q", c.pipeline, c.from, c.to, err, c.want)
			}
		}
		return nil
	})
}
