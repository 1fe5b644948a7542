package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/web"
)

var noTaskRE = regexp.MustCompile(`id="tile-notask"[^>]*>\s*<span class="label">[^<]*</span>\s*<span class="big" data-value="(\d+)"`)

// dealsWithoutTask reads the dashboard's «deals without a next task».
func dealsWithoutTask(t *testing.T, page string) int {
	t.Helper()
	m := noTaskRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no «deals without a next task» tile in\n%s", page)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// giveD2ATask sets a task on D2, which has none.
func (s *testSite) giveD2ATask(t *testing.T) {
	t.Helper()
	e, err := funnelwatch.DecodeEvent([]byte(`{"id":"t-d2","type":"task.created","at":"2026-11-02T12:00:00+03:00","task":{"id":"T2","deal_id":"D2","assignee":"olga","due":"2026-11-04T10:00:00+03:00","text":"Позвонить"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.in.Ingest(context.Background(), []funnelwatch.Event{e}); err != nil {
		t.Fatal(err)
	}
}

// dashboardCountsTheNewTask gives D2 a task and expects the dashboard,
// computed for the request, to count one deal without a task fewer than
// before.
func (s *testSite) dashboardCountsTheNewTask(t *testing.T, c *http.Client, before int) {
	t.Helper()
	s.giveD2ATask(t)
	_, page := get(t, c, s.URL+"/?lang=ru")
	if got := dealsWithoutTask(t, page); got != before-1 {
		t.Fatalf("after D2 got a task: %d deals without a task, want %d", got, before-1)
	}
	if strings.Contains(page, `id="as-of"`) {
		t.Fatal("figures computed for the request are said to be kept ones")
	}
}

// A company whose figures compute quickly sees them as of each request:
// the task just set shows on the dashboard at once.
func TestDashboardFiguresAreFreshWhenQuick(t *testing.T) {
	s := newSite(t)
	c := browser(t)
	s.signIn(t, c, "sergey", "sergey-password")
	_, page := get(t, c, s.URL+"/")
	before := dealsWithoutTask(t, page)
	if before == 0 {
		t.Fatalf("no deal without a task before the test's task:\n%s", page)
	}
	s.dashboardCountsTheNewTask(t, c, before)
}

// A company whose figures compute slowly (here: any computation counts
// as slow) is shown the kept figures with the time they were taken, on
// the dashboard and the funnel page, in both languages, while the data
// stays as it was; once an event arrives, figures as quick as these are
// computed again for the request.
func TestDashboardFiguresKeptWhenSlow(t *testing.T) {
	s := newSiteWith(t, func(w *web.Server) { w.KeepFiguresOver = time.Nanosecond })
	c := browser(t)
	s.signIn(t, c, "sergey", "sergey-password")
	_, page := get(t, c, s.URL+"/") // signing in opened it once already
	before := dealsWithoutTask(t, page)
	asOf := regexp.MustCompile(`id="as-of"><small>Цифры на \d\d:\d\d:\d\d \(расчёт \d+,\d с, обновляются в фоне\)`)
	if !asOf.MatchString(page) {
		t.Fatalf("the dashboard does not say when its kept figures were taken:\n%s", page)
	}
	get(t, c, s.URL+"/funnel")
	_, page = get(t, c, s.URL+"/funnel?lang=en")
	if !regexp.MustCompile(`id="as-of"><small>Figures as of \d\d:\d\d:\d\d \(computing \d+\.\d s, refreshed in the background\)`).MatchString(page) {
		t.Fatalf("the funnel page does not say when its kept figures were taken:\n%s", page)
	}
	get(t, c, s.URL+"/managers?lang=ru")
	_, page = get(t, c, s.URL+"/managers")
	if !asOf.MatchString(page) {
		t.Fatalf("the managers page does not say when its kept figures were taken:\n%s", page)
	}
	s.dashboardCountsTheNewTask(t, c, before)
}
