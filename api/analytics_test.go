package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/report"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// newWeekServer serves the week of report/testdata (the log report's
// tests work by hand), posted through the API in its three parts — the
// second a move dated before its deal's latest event — with the clock at
// the week's end. It returns the server, a function that reads its store
// directly and the funnel it serves.
func newWeekServer(t *testing.T) (*httptest.Server, func(fn func(funnelwatch.ReadTx) error), *funnelwatch.Funnel) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.EnsureWorkspace(ctx, "w", "Test"); err != nil {
		t.Fatal(err)
	}
	funnel := storetest.Funnel()
	funnel.Location = msk
	st := funnel.Pipelines[0].Stages
	st[0].Name, st[0].SLA = "Целевой клиент", 24*time.Hour
	st[1].Name, st[1].SLA = "Контакт установлен", 48*time.Hour
	st[2].Name = "Готов к выдаче"
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: funnel}
	mux := http.NewServeMux()
	(&api.Server{Store: store, Workspace: "w", Ingestor: in, Tokens: []string{token}, Funnel: funnel,
		Now: func() time.Time { return weekTo }}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, part := range []string{"week_a.ndjson", "week_b.ndjson", "week_c.ndjson"} {
		body, err := os.ReadFile(filepath.Join("..", "report", "testdata", part))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(strings.TrimSpace(string(body)), "\n") + 1
		if r := post(t, srv, "application/x-ndjson", string(body)); r.Accepted != lines {
			t.Fatalf("%s: %+v", part, r)
		}
	}
	// Роман's two violations of the week and Ольга's remark.
	vs := []*funnelwatch.Violation{
		{ID: "V1", Rule: "r", Severity: funnelwatch.SeverityViolation, DealID: "D2", User: "roman", OpenedAt: at(time.November, 3, 10, 0)},
		{ID: "V2", Rule: "r", Severity: funnelwatch.SeverityViolation, DealID: "D6", User: "roman", OpenedAt: at(time.November, 5, 13, 0)},
		{ID: "V3", Rule: "r", Severity: funnelwatch.SeverityRemark, DealID: "D5", User: "olga", OpenedAt: at(time.November, 6, 11, 0)},
	}
	if err := store.Update(ctx, "w", func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, vs...) }); err != nil {
		t.Fatal(err)
	}
	direct := func(fn func(funnelwatch.ReadTx) error) {
		t.Helper()
		if err := in.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if err := store.View(ctx, "w", fn); err != nil {
			t.Fatal(err)
		}
	}
	return srv, direct, funnel
}

func TestFunnelReportAPI(t *testing.T) {
	srv, direct, funnel := newWeekServer(t)
	week := "?from=2026-11-02T00:00:00%2B03:00&to=2026-11-09T00:00:00%2B03:00"
	// The default period is the 7 days before now, that week; the default
	// pipeline, the sales one.
	var bodies [][]byte
	for _, q := range []string{week + "&pipeline=sales", week, ""} {
		code, body := do(t, srv, "GET", "/api/v1/reports/funnel"+q, "", "", token)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		bodies = append(bodies, body)
	}
	for _, b := range bodies[1:] {
		if !sameJSON(t, b, string(bodies[0])) {
			t.Errorf("defaults give another report:\n%s\nwant\n%s", b, bodies[0])
		}
	}
	var r struct {
		From, To string
		Stages   []map[string]any
	}
	if err := json.Unmarshal(bodies[0], &r); err != nil {
		t.Fatal(err)
	}
	// Hand-worked in report/analytics_test.go (weekFunnelJSON): target 1
	// deal now, 5 in, 5 out, 4/5 went on, 30 h on average, p90 72 h;
	// contact 3 now, 4 in, 2 out, 1/4 went on and won, bottleneck 10.5
	// days / 2 = 5.25, and it holds more than target: the ladder flag.
	if r.From != "2026-11-02T00:00:00+03:00" || r.To != "2026-11-09T00:00:00+03:00" || len(r.Stages) != 5 {
		t.Fatalf("report %s", bodies[0])
	}
	target, contact := r.Stages[0], r.Stages[1]
	if target["stage"] != "target" || target["deals_now"] != 1.0 || target["entries"] != 5.0 || target["exits"] != 5.0 ||
		target["conversion_next"] != 0.8 || target["avg_hours"] != 30.0 || target["p90_hours"] != 72.0 {
		t.Errorf("target = %v", target)
	}
	if contact["stage"] != "contact" || contact["deals_now"] != 3.0 || contact["entries"] != 4.0 || contact["exits"] != 2.0 ||
		contact["conversion_won"] != 0.25 || contact["bottleneck"] != 5.25 || contact["ladder"] != true {
		t.Errorf("contact = %v", contact)
	}
	// The page will render report.Funnel: the API says the same.
	direct(func(tx funnelwatch.ReadTx) error {
		rep, err := report.Funnel(context.Background(), tx, funnel, "sales", weekFrom, weekTo)
		if err != nil {
			return err
		}
		want, _ := json.Marshal(rep)
		if !sameJSON(t, bodies[0], string(want)) {
			t.Errorf("API\n%s\nreport\n%s", bodies[0], want)
		}
		return nil
	})
}

func TestManagersReportAPI(t *testing.T) {
	srv, direct, funnel := newWeekServer(t)
	code, body := do(t, srv, "GET", "/api/v1/reports/managers", "", "", token)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	// Keyed by user id: the two managers (Сергей, the supervisor, has no
	// figure of the week).
	if len(got) != 2 || got["roman"] == nil || got["olga"] == nil {
		t.Fatalf("managers %s", body)
	}
	// Hand-worked in report/analytics_test.go (weekManagersJSON).
	roman := got["roman"]
	for k, want := range map[string]float64{
		"deals_handled": 3, "won": 1, "lost": 1, "win_rate": 0.5, "revenue": 100000, "avg_check": 100000,
		"cycle_median_days": 6, "violations": 2, "violations_share": 1, "calls_in": 2, "calls_out": 4,
		"calls_answered": 3, "successful_contacts": 2, "talk_time_s": 210, "avg_call_s": 70, "missed_calls": 2,
		"missed_not_returned": 1, "callback_median_minutes": 30, "cards_changed": 3, "calls_per_card_changed": 2,
		"tasks_created": 3, "tasks_per_deal": 1, "overdue_tasks": 2,
	} {
		if roman[k] != want {
			t.Errorf("roman %s = %v, want %v", k, roman[k], want)
		}
	}
	if got["olga"]["remarks_per_100_active_deals"] != 25.0 || got["olga"]["callback_median_minutes"] != 90.0 {
		t.Errorf("olga = %v", got["olga"])
	}
	// The same figures as report.Managers gives the pages.
	direct(func(tx funnelwatch.ReadTx) error {
		rep, err := report.Managers(context.Background(), tx, funnel, weekFrom, weekTo, weekTo, report.ManagersOptions{})
		if err != nil {
			return err
		}
		b, _ := json.Marshal(rep.Managers)
		var want map[string]map[string]any
		if err := json.Unmarshal(b, &want); err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("API\n%v\nreport\n%v", got, want)
		}
		return nil
	})

	// The successful-contact threshold: at 60 s olga keeps only C6.
	code, body = do(t, srv, "GET", "/api/v1/reports/managers?successful_min_s=60", "", "", token)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got["olga"]["successful_contacts"] != 1.0 || got["roman"]["successful_contacts"] != 2.0 {
		t.Errorf("at 60 s: olga %v, roman %v", got["olga"]["successful_contacts"], got["roman"]["successful_contacts"])
	}
}

func TestAnalyticsReportsRefused(t *testing.T) {
	srv, _, _ := newWeekServer(t)
	for path, want := range map[string]string{
		"/api/v1/reports/funnel?pipeline=nope":                                       `unknown pipeline \"nope\"`,
		"/api/v1/reports/funnel?from=yesterday":                                      "from must be an RFC 3339 time",
		"/api/v1/reports/managers?to=2026-11-09":                                     "to must be an RFC 3339 time",
		"/api/v1/reports/managers?successful_min_s=0":                                "successful_min_s must be",
		"/api/v1/reports/managers?successful_min_s=x":                                "successful_min_s must be",
		"/api/v1/reports/managers?from=2026-11-09T00:00:00Z&to=2026-11-02T00:00:00Z": "must be before to",
	} {
		code, body := do(t, srv, "GET", path, "", "", token)
		if code != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s, want 400 with %q", path, code, body, want)
		}
	}
	for _, path := range []string{"/api/v1/reports/funnel", "/api/v1/reports/managers"} {
		if code, _ := do(t, srv, "GET", path, "", "", "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", path, code)
		}
	}
}
