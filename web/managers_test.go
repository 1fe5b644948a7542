package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
)

// TestManagersScope: on the demo company, the head of sales sees every
// manager's column; a manager sees their own and the team median, no one
// else's figures; another manager's /managers/{id} is 404, as a user that
// does not exist.
func TestManagersScope(t *testing.T) {
	s := newDemoSite(t)
	cols := regexp.MustCompile(`<th class="num" data-user="([^"]+)">`)
	users := func(page string) []string {
		var out []string
		for _, m := range cols.FindAllStringSubmatch(page, -1) {
			out = append(out, m[1])
		}
		return out
	}
	sergey := browser(t)
	s.signIn(t, sergey, "sergey", "sergey-password")
	code, page := get(t, sergey, s.URL+"/managers")
	if code != 200 {
		t.Fatalf("GET /managers = %d", code)
	}
	all := users(page)
	if len(all) < 10 || !strings.Contains(strings.Join(all, " "), "anna") {
		t.Errorf("the head of sales sees %v, want every manager", all)
	}

	roman := browser(t)
	s.signIn(t, roman, "roman", "roman-password")
	code, page = get(t, roman, s.URL+"/managers")
	if got := users(page); code != 200 || len(got) != 1 || got[0] != "roman" {
		t.Errorf("roman's /managers: %d, columns %v, want his own only", code, got)
	}
	if !strings.Contains(page, `class="num median"`) {
		t.Error("roman's scorecard has no team median beside it")
	}
	for _, other := range []string{"Анна Коваленко", "Ольга Тихонова", "/managers/anna"} {
		if strings.Contains(page, other) {
			t.Errorf("roman's /managers mentions %q", other)
		}
	}
	for path, want := range map[string]int{"/managers/roman": 200, "/managers/anna": 404, "/managers/nobody": 404} {
		if code, _ := get(t, roman, s.URL+path); code != want {
			t.Errorf("roman GET %s = %d, want %d", path, code, want)
		}
	}
	if code, _ := get(t, sergey, s.URL+"/managers/anna"); code != 200 {
		t.Errorf("the head of sales GET /managers/anna = %d", code)
	}
}

// TestManagersFigures: a card's figures are report.Managers' and its
// median is over every manager, also when a manager looks at it.
func TestManagersFigures(t *testing.T) {
	s := newDemoSite(t)
	c := browser(t)
	s.signIn(t, c, "roman", "roman-password")
	_, page := get(t, c, s.URL+"/managers/roman?lang=en")
	from, to := demoWeek(s)
	var rep *report.ManagersReport
	err := s.store.View(context.Background(), "w", func(tx funnelwatch.ReadTx) error {
		var err error
		rep, err = report.Managers(context.Background(), tx, s.funnel, from, to, s.now, report.ManagersOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Managers["roman"]
	var overdue []float64
	for _, u := range s.funnel.Users {
		if x := rep.Managers[u.ID]; x != nil && u.Role == funnelwatch.RoleManager {
			overdue = append(overdue, float64(x.OverdueTasks))
		}
	}
	line := func(key string) []string {
		re := regexp.MustCompile(`(?s)<tr data-metric="` + key + `">(.*?)</tr>`)
		row := re.FindStringSubmatch(page)
		if row == nil {
			t.Fatalf("no line %s", key)
		}
		var out []string
		for _, c := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row[1], -1) {
			out = append(out, strings.TrimSpace(c[1]))
		}
		return out
	}
	if got := line("deals_handled"); got[2] != itoa(m.DealsHandled) {
		t.Errorf("deals handled: page %v, report %d", got, m.DealsHandled)
	}
	if got := line("overdue_tasks"); got[2] != itoa(m.OverdueTasks) || got[1] != fmtMedian(overdue) {
		t.Errorf("overdue tasks: page %v, report %d, median %s", got, m.OverdueTasks, fmtMedian(overdue))
	}
	if got := line("calls_out"); got[2] != itoa(m.CallsOut) {
		t.Errorf("calls out: page %v, report %d", got, m.CallsOut)
	}
}
