package web_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// A finding and a task of Роман's on a deal that has passed to Ольга:
// his lists name the deal without a link to a card he may not open.
func TestListsNameADealPassedToAnother(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	e, err := funnelwatch.DecodeEvent([]byte(`{"id":"pass","type":"deal.responsible_changed","at":"2026-11-02T12:00:00+03:00","deal_id":"D1","to":"olga"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.in.Ingest(ctx, []funnelwatch.Event{e}); err != nil {
		t.Fatal(err)
	}
	if err := s.in.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 11, 2, 11, 30, 0, 0, time.UTC)
	err = s.store.Update(ctx, "w", func(tx funnelwatch.Tx) error {
		return tx.SaveViolations(ctx,
			&funnelwatch.Violation{ID: "v-d1", Rule: "task_overdue", Severity: funnelwatch.SeverityViolation, DealID: "D1", TaskID: "T1",
				User: "roman", Pipeline: "sales", Stage: "ready", OpenedAt: opened, Evidence: []byte(`{}`)},
			&funnelwatch.Violation{ID: "v-d3", Rule: "no_next_task", Severity: funnelwatch.SeverityViolation, DealID: "D3",
				User: "roman", Pipeline: "sales", Stage: "target", OpenedAt: opened, Evidence: []byte(`{}`)})
	})
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	s.signIn(t, c, "roman", "roman-password")
	_, page := get(t, c, s.URL+"/violations?from=2026-11-01&to=2026-11-30")
	if strings.Contains(page, `href="/deals/D1"`) {
		t.Error("roman's violations link to D1, which is Ольга's now (a 404 for him)")
	}
	if !regexp.MustCompile(`<span class="deal-elsewhere">BMW X5 <small class="muted">\(сделка у другого менеджера\)`).MatchString(page) {
		t.Errorf("roman's violations do not name D1 as another manager's:\n%s", page)
	}
	if !strings.Contains(page, `href="/deals/D3"`) {
		t.Error("roman's own deal D3 is not linked")
	}
	if code, _ := get(t, c, s.URL+"/deals/D1"); code != 404 {
		t.Fatalf("roman opens D1: %d, want 404 (what the link would have led to)", code)
	}
	_, page = get(t, c, s.URL+"/tasks")
	if !strings.Contains(page, "Перезвонить") {
		t.Fatalf("roman's task T1 is not on his tasks page:\n%s", page)
	}
	if strings.Contains(page, `href="/deals/D1"`) || !strings.Contains(page, `class="deal-elsewhere"`) {
		t.Errorf("roman's task on D1 links to a card he may not open:\n%s", page)
	}
	// Ольга, responsible now, opens it from her lists.
	o := browser(t)
	s.signIn(t, o, "olga", "olga-password")
	if code, _ := get(t, o, s.URL+"/deals/D1"); code != 200 {
		t.Errorf("olga opens D1: %d", code)
	}
}

// The violations list shows the newest first, fifty a page: the pages
// follow on without a gap or a repeat, and a page past the end is empty.
func TestViolationsPagesNewestFirst(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	const n = 120
	start := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	var vs []*funnelwatch.Violation
	for i := range n {
		vs = append(vs, &funnelwatch.Violation{ID: fmt.Sprintf("v%03d", i), Rule: "no_next_task", Severity: funnelwatch.SeverityViolation,
			DealID: "D1", User: "roman", Pipeline: "sales", Stage: "ready", OpenedAt: start.Add(time.Duration(i) * time.Minute), Evidence: []byte(`{}`)})
	}
	if err := s.store.Update(ctx, "w", func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, vs...) }); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	s.signIn(t, c, "roman", "roman-password")
	id := regexp.MustCompile(`data-id="(v\d+)"`)
	var got []string
	for page := 1; page <= 4; page++ {
		_, html := get(t, c, fmt.Sprintf("%s/violations?from=2026-11-01&to=2026-11-30&page=%d", s.URL, page))
		if !strings.Contains(html, `data-value="120"`) {
			t.Fatalf("page %d does not say 120 found", page)
		}
		ids := id.FindAllStringSubmatch(html, -1)
		if want := []int{50, 50, 20, 0}[page-1]; len(ids) != want {
			t.Fatalf("page %d lists %d findings, want %d", page, len(ids), want)
		}
		for _, m := range ids {
			got = append(got, m[1])
		}
	}
	for i, id := range got {
		if want := fmt.Sprintf("v%03d", n-1-i); id != want {
			t.Fatalf("finding %d of the pages is %s, want %s (newest first)", i, id, want)
		}
	}
}

// A group of the tasks page shows its 200 most urgent tasks, says how
// many there are, and links to the whole group.
func TestTasksGroupShowsTheMostUrgent(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	const n = 250
	var events []funnelwatch.Event
	for i := range n {
		due := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC).Add(time.Duration(n-i) * time.Minute) // the last one is due first
		e, err := funnelwatch.DecodeEvent(fmt.Appendf(nil, `{"id":"t%d","type":"task.created","at":"2026-11-02T12:00:00+03:00","task":{"id":"X%03d","deal_id":"D1","assignee":"roman","due":%q,"text":"Звонок %d"}}`,
			i, i, due.Format(time.RFC3339), i))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if _, err := s.in.Ingest(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := s.in.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	s.signIn(t, c, "roman", "roman-password")
	overdue := func(html string) (count string, ids []string) {
		sec := html[strings.Index(html, `id="overdue"`):]
		sec = sec[:strings.Index(sec, "</section>")]
		if m := regexp.MustCompile(`data-value="(\d+)"`).FindStringSubmatch(sec); m != nil {
			count = m[1]
		}
		for _, m := range regexp.MustCompile(`data-task="(\w+)"`).FindAllStringSubmatch(sec, -1) {
			ids = append(ids, m[1])
		}
		return count, ids
	}
	_, page := get(t, c, s.URL+"/tasks")
	count, ids := overdue(page)
	// T1 of the site (due 3 November 10:00 Moscow, 07:00 UTC) is the most overdue.
	if count != "251" || len(ids) != 200 || ids[0] != "T1" || ids[1] != "X249" || ids[199] != "X051" {
		t.Fatalf("overdue: count %s, %d rows (%v…), want 251, 200 rows from T1, X249 to X051", count, len(ids), ids[:min(3, len(ids))])
	}
	if !strings.Contains(page, "ещё 51") || !strings.Contains(page, `href="/tasks?show=overdue#overdue"`) {
		t.Fatal("the overdue group does not say 51 more with a link to them all")
	}
	_, page = get(t, c, s.URL+"/tasks?show=overdue")
	if count, ids = overdue(page); count != "251" || len(ids) != 251 || ids[250] != "X000" {
		t.Fatalf("the whole group: count %s, %d rows", count, len(ids))
	}
}
