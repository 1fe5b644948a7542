package demo

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// testEnd is the end of the history in the tests: "now" as the CLI passes
// it, in UTC.
var testEnd = time.Date(2026, 11, 20, 14, 37, 0, 0, time.UTC)

var (
	defaultOnce sync.Once
	defaultCo   *Company
	defaultErr  error
	defaultTook time.Duration
)

// mustDefault returns the company of seed 1 with the default options,
// generated once for all tests.
func mustDefault(tb testing.TB) *Company {
	tb.Helper()
	defaultOnce.Do(func() {
		start := time.Now()
		defaultCo, defaultErr = Generate(Options{Seed: 1, End: testEnd})
		defaultTook = time.Since(start)
	})
	if defaultErr != nil {
		tb.Fatal(defaultErr)
	}
	return defaultCo
}

func ndjson(tb testing.TB, co *Company) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := co.WriteNDJSON(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// mustRegulations parses the company's regulations with the product's parser.
func mustRegulations(tb testing.TB, co *Company) *regulations.Regulations {
	tb.Helper()
	regs, err := regulations.Parse(co.Regulations)
	if err != nil {
		tb.Fatalf("regulations.yaml: %v", err)
	}
	return regs
}

// mustReplay checks every event of co against its regulations.
func mustReplay(tb testing.TB, co *Company, end time.Time, days int) *replay {
	tb.Helper()
	regs := mustRegulations(tb, co)
	x := newReplay(&regs.Funnel, end.AddDate(0, 0, -days), end)
	for i := range co.Events {
		e := &co.Events[i]
		if err := x.apply(e); err != nil {
			tb.Fatalf("event %d (%s %s at %s): %v", i, e.ID, e.Type, e.At.Format(time.RFC3339), err)
		}
	}
	return x
}

func TestGenerate_Deterministic(t *testing.T) {
	a := ndjson(t, mustDefault(t))
	again, err := Generate(Options{Seed: 1, End: testEnd})
	if err != nil {
		t.Fatal(err)
	}
	if b := ndjson(t, again); !bytes.Equal(a, b) {
		t.Fatal("the same options gave different logs")
	}
	// The same instant written in another zone is the same history.
	moscow, err := Generate(Options{Seed: 1, End: testEnd.In(time.FixedZone("MSK", 3*3600))})
	if err != nil {
		t.Fatal(err)
	}
	if b := ndjson(t, moscow); !bytes.Equal(a, b) {
		t.Fatal("the same End in another zone gave a different log")
	}
	other, err := Generate(Options{Seed: 2, End: testEnd})
	if err != nil {
		t.Fatal(err)
	}
	if b := ndjson(t, other); bytes.Equal(a, b) {
		t.Fatal("seeds 1 and 2 gave the same log")
	}
}

func TestGenerate_Decode(t *testing.T) {
	co := mustDefault(t)
	sc := bufio.NewScanner(bytes.NewReader(ndjson(t, co)))
	sc.Buffer(nil, 1<<20)
	seen := map[string]bool{}
	n := 0
	for sc.Scan() {
		e, err := funnelwatch.DecodeEvent(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v\n%s", n+1, err, sc.Text())
		}
		want := &co.Events[n]
		if e.ID != want.ID || e.Type != want.Type || !e.At.Equal(want.At) || e.DealRef() != want.DealRef() {
			t.Fatalf("line %d decodes to %s %s %s, want %s %s %s", n+1, e.ID, e.Type, e.At, want.ID, want.Type, want.At)
		}
		if seen[e.ID] {
			t.Fatalf("duplicate event id %s", e.ID)
		}
		seen[e.ID] = true
		if n > 0 && e.At.Before(co.Events[n-1].At) {
			t.Fatalf("event %s is before the one above it", e.ID)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(co.Events) {
		t.Fatalf("%d lines for %d events", n, len(co.Events))
	}
}

func TestGenerate_Regulations(t *testing.T) {
	co := mustDefault(t)
	regs := mustRegulations(t, co)
	if regs.Company != "ЗолотаревАвто (демо)" || regs.Timezone != Timezone {
		t.Errorf("company %q in %q", regs.Company, regs.Timezone)
	}
	// The generator's team is the file's team, shifts included.
	for _, p := range newTeam() {
		u, ok := regs.User(p.id)
		if !ok {
			t.Errorf("user %s is not in regulations.yaml", p.id)
			continue
		}
		if u.SalesRole != p.salesRole || u.Schedule.OnDays != p.shift.OnDays || u.Schedule.OffDays != p.shift.OffDays ||
			(!p.shift.IsZero() && u.Schedule.Start.Format(time.DateOnly) != p.shift.Start.Format(time.DateOnly)) {
			t.Errorf("user %s: file says %s %+v, generator plays %s %+v", p.id, u.SalesRole, u.Schedule, p.salesRole, p.shift)
		}
	}
	if len(regs.Pipelines) != 8 {
		t.Errorf("%d pipelines, want 8", len(regs.Pipelines))
	}
}

func TestGenerate_References(t *testing.T) {
	co := mustDefault(t)
	x := mustReplay(t, co, testEnd, DefaultDays)
	t.Logf("%d events, %d deals, %d tasks, %d calls, %d notes", len(co.Events), len(x.deals), len(x.tasks), len(x.calls), len(x.notes))
}

func TestGenerate_Size(t *testing.T) {
	co := mustDefault(t)
	n := len(co.Events)
	t.Logf("%d events generated in %s (%d bytes of NDJSON)", n, defaultTook, len(ndjson(t, co)))
	if n < 40_000 || n > 60_000 {
		t.Errorf("%d events, want 40,000–60,000", n)
	}
	counts := map[funnelwatch.EventType]int{}
	for i := range co.Events {
		counts[co.Events[i].Type]++
	}
	for _, typ := range funnelwatch.EventTypes {
		t.Logf("  %-24s %6d", typ, counts[typ])
		if counts[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
}

func TestGenerate_Options(t *testing.T) {
	if _, err := Generate(Options{Seed: 1}); err == nil {
		t.Error("no error without End")
	}
	if _, err := Generate(Options{Seed: 1, End: testEnd, Days: -1}); err == nil {
		t.Error("no error for negative Days")
	}
	// A short history and a small company are still valid.
	co, err := Generate(Options{Seed: 7, End: testEnd, Days: 10, LeadsPerDay: 5})
	if err != nil {
		t.Fatal(err)
	}
	mustReplay(t, co, testEnd, 10)
	if len(co.Events) == 0 || len(co.Events) > 2000 {
		t.Errorf("%d events for 10 days of 5 leads", len(co.Events))
	}
}

func TestGenerate_OtherSeeds(t *testing.T) {
	for _, seed := range []int64{2, 3, 42} {
		co, err := Generate(Options{Seed: seed, End: testEnd.Add(time.Duration(seed) * 7 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		mustReplay(t, co, testEnd.Add(time.Duration(seed)*7*time.Hour), DefaultDays)
	}
}

// TestGenerate_Habits measures the bad habits of the seeds in the log,
// for a few seeds so that they do not hang on one lucky draw.
func TestGenerate_Habits(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			co := mustDefault(t)
			if seed != 1 {
				var err error
				if co, err = Generate(Options{Seed: seed, End: testEnd}); err != nil {
					t.Fatal(err)
				}
			}
			checkHabits(t, co, mustReplay(t, co, testEnd, DefaultDays))
		})
	}
}

func checkHabits(t *testing.T, co *Company, x *replay) {
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range x.tasks {
			if !yield(id) {
				return
			}
		}
	})

	// Overdue tasks: open past due at the end, and ever overdue; Roman's share.
	overdueNow, ever := map[string]int{}, map[string]int{}
	totalNow, totalEver := 0, 0
	for _, id := range ids {
		tk := x.tasks[id]
		if x.overdueAtEnd(tk) {
			overdueNow[tk.assignee]++
			totalNow++
		}
		if x.everOverdue(tk) {
			ever[tk.assignee]++
			totalEver++
		}
	}
	t.Logf("overdue open tasks at the end: %d %v", totalNow, overdueNow)
	t.Logf("tasks ever overdue: %d %v", totalEver, ever)
	if totalNow < 30 {
		t.Errorf("%d overdue open tasks at the end, want ≥ 30", totalNow)
	}
	if share := float64(ever[romanID]) / float64(totalEver); share <= 0.35 {
		t.Errorf("Roman has %.0f%% of the overdue tasks, want > 35%%", 100*share)
	}
	if share := float64(overdueNow[romanID]) / float64(totalNow); share <= 0.35 {
		t.Errorf("Roman has %.0f%% of the overdue open tasks, want > 35%%", 100*share)
	}

	// Deals hanging without a task on «Целевой клиент» and «Готов к выдаче».
	hasTask := x.openTasks()
	hanging := map[string]int{}
	var readyMoney float64
	byResp := map[string]int{}
	for _, id := range x.order {
		d := x.deals[id]
		if !d.open() || d.pipeline != "sales" || hasTask[id] || (d.stage != "target" && d.stage != "ready") {
			continue
		}
		hanging[d.stage]++
		byResp[d.resp]++
		if d.stage == "ready" {
			readyMoney += d.amount
		}
	}
	t.Logf("open deals without a task: %v, %s on «Готов к выдаче»; by manager %v", hanging, rub(readyMoney), byResp)
	if hanging["target"] < 12 || hanging["ready"] < 12 {
		t.Errorf("hanging deals %v, want dozens on target and ready", hanging)
	}
	if readyMoney < 500_000 {
		t.Errorf("%s hanging on «Готов к выдаче», want ≥ 500 000", rub(readyMoney))
	}

	// Mass closing: losses by one manager within 10 minutes.
	best, who := 0, ""
	for i, l := range x.losses {
		n := 0
		for _, m := range x.losses[i:] {
			if m.at.Sub(l.at) > 10*time.Minute {
				break
			}
			if m.actor == l.actor {
				n++
			}
		}
		if n > best {
			best, who = n, l.actor
		}
	}
	t.Logf("largest burst of losses: %d by %s within 10 minutes", best, who)
	if best < 20 {
		t.Errorf("largest burst of losses is %d, want ≥ 20", best)
	}

	// Missed inbound calls: callback time.
	var quick, late, never int
	for i, c := range x.calls {
		if c.dir != in || c.answered {
			continue
		}
		back := time.Duration(-1)
		for _, o := range x.calls[i+1:] {
			if o.dir == out && o.key == c.key {
				back = o.at.Sub(c.at)
				break
			}
		}
		switch {
		case back < 0:
			never++
		case back > 40*time.Minute:
			late++
		default:
			quick++
		}
	}
	t.Logf("missed inbound calls: %d called back within 40 min, %d later, %d never", quick, late, never)
	if late+never < 10 || never < 1 || quick < late+never {
		t.Errorf("missed calls: %d quick, %d late, %d never", quick, late, never)
	}

	// Comments that say nothing, Roman first.
	empty := map[string]int{}
	totalEmpty := 0
	for _, n := range x.notes {
		if isEmptyNote(n.text) {
			empty[n.author]++
			totalEmpty++
		}
	}
	t.Logf("content-free notes: %d %v", totalEmpty, empty)
	if totalEmpty < 50 || empty[romanID] < totalEmpty/3 {
		t.Errorf("content-free notes %d, Roman's %d", totalEmpty, empty[romanID])
	}

	// Losses without a reason, backward moves, required fields, junk, reschedules.
	noReason := 0
	for _, l := range x.losses {
		if l.reason == "" {
			noReason++
		}
	}
	t.Logf("losses: %d, without a reason: %d; backward moves: %d; to ready without amount: %d; junk fields: %d; tasks rescheduled ≥3 times without a call: %d",
		len(x.losses), noReason, x.backward, x.readyNoAmt, x.junkFields, x.chains)
	if noReason < 5 || x.backward < 5 || x.readyNoAmt < 3 || x.junkFields < 3 || x.chains < 10 {
		t.Error("too few of the small habits")
	}

	// Conversion of the main pipeline, as the seed says: 25–30 %.
	won, closed := 0, 0
	for _, id := range x.order {
		d := x.deals[id]
		if d.pipeline != "sales" || d.deleted {
			continue
		}
		closed++
		if d.typ == funnelwatch.StageWon {
			won++
		}
	}
	conv := float64(won) / float64(closed)
	t.Logf("main pipeline: %d deals, %d won (%.0f%%)", closed, won, 100*conv)
	if conv < 0.2 || conv > 0.4 {
		t.Errorf("conversion %.0f%%, want 20–40%%", 100*conv)
	}
}

// isEmptyNote reports whether s is one of the content-free comments, as a
// man or a woman writes it.
func isEmptyNote(s string) bool {
	for _, n := range emptyNotes {
		if heSays.Replace(n) == s || sheSays.Replace(n) == s {
			return true
		}
	}
	return false
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		co, err := Generate(Options{Seed: 1, End: testEnd})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(co.Events)), "events")
	}
}
