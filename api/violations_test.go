package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

var msk = time.FixedZone("MSK", 3*3600)

func at(month time.Month, day, hour, min int) time.Time {
	return time.Date(2026, month, day, hour, min, 0, 0, msk)
}

func ptr[T any](v T) *T { return &v }

// The week under review: Monday 2 November 2026 00:00 Moscow to the next
// Monday; the server's clock stands at its end.
var weekFrom, weekTo = at(time.November, 2, 0, 0), at(time.November, 9, 0, 0)

// The deals, through the ingest path: open at some moment of the week are
// D1 and D4 (roman), D2 and D3 (olga), D5 (sergey, won midweek) and D7
// (sergey, stuck on "ready" since October); of the week before, D1, D4,
// D2 and D7. D6 was lost before either.
const dealEvents = `[
 {"id":"d1","type":"deal.created","at":"2026-11-01T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":24000}},
 {"id":"d2","type":"deal.created","at":"2026-10-25T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales","stage":"contact","responsible":"olga","amount":10000}},
 {"id":"d3","type":"deal.created","at":"2026-11-02T20:00:00+03:00","deal":{"id":"D3","pipeline":"sales","stage":"contact","responsible":"olga","amount":10000}},
 {"id":"d4","type":"deal.created","at":"2026-10-29T10:00:00+03:00","deal":{"id":"D4","pipeline":"sales","stage":"contact","responsible":"roman","amount":16000}},
 {"id":"d5","type":"deal.created","at":"2026-11-03T10:00:00+03:00","deal":{"id":"D5","pipeline":"sales","stage":"ready","responsible":"sergey","amount":5000}},
 {"id":"d5w","type":"deal.stage_changed","at":"2026-11-04T10:00:00+03:00","deal_id":"D5","to_stage":"won"},
 {"id":"d6","type":"deal.created","at":"2026-10-20T10:00:00+03:00","deal":{"id":"D6","pipeline":"sales","stage":"ready","responsible":"roman","amount":2000}},
 {"id":"d6l","type":"deal.stage_changed","at":"2026-10-25T10:00:00+03:00","deal_id":"D6","to_stage":"lost","loss_reason":"дорого"},
 {"id":"d7","type":"deal.created","at":"2026-10-15T10:00:00+03:00","deal":{"id":"D7","pipeline":"sales","stage":"ready","responsible":"sergey","amount":30000}}
]`

func finding(id, rule string, sev funnelwatch.Severity, deal, user, stage string, opened time.Time, resolved *time.Time, amount, rate float64) *funnelwatch.Violation {
	return &funnelwatch.Violation{ID: id, Rule: rule, Severity: sev, DealID: deal, User: user, Pipeline: "sales", Stage: stage,
		OpenedAt: opened, ResolvedAt: resolved, Amount: amount, WinRate: rate, MoneyAtRisk: amount * rate,
		Message:        funnelwatch.Text{RU: "Нарушение " + id, EN: "Finding " + id},
		Recommendation: funnelwatch.Text{RU: "Исправьте " + id, EN: "Fix " + id}}
}

const (
	vio = funnelwatch.SeverityViolation
	rem = funnelwatch.SeverityRemark
)

// findings are what the rules found, in opening order (money at risk
// last):
//
//	V9  no_next_step  violation D7 sergey sales/ready   19.10 10:00 open (stuck for weeks)            6 000
//	V7  no_next_step  violation D6 roman  sales/ready   20.10 12:00, resolved 21.10 12:00               1 000
//	V6  overdue_task  violation D2 olga   sales/target  27.10 10:00, resolved 28.10 10:00               2 000
//	V5  no_next_step  violation D4 roman  sales/contact 30.10 10:00 open (carried into the week)        8 000
//	V10 overdue_task  violation D2 olga   sales/contact 31.10 15:00, resolved 04.11 18:00 (carried in)  4 000
//	V4  overdue_task  violation D3 olga   sales/contact 03.11 01:30 (02.11 22:30 UTC), resolved 03.11 05:00  5 000
//	V1  no_next_step  violation D1 roman  sales/target  03.11 10:00 open                               10 000
//	V2  overdue_task  violation D1 roman  sales/target  04.11 12:00 open (D1's amount grew)            12 000
//	V3  empty_comment remark    D2 olga   sales/contact 05.11 09:00 open                                3 000
//	V8  no_next_step  violation D2 olga   sales/contact 09.11 00:00 open (the instant the week ends)    2 000
func findings() []*funnelwatch.Violation {
	v2 := finding("V2", "overdue_task", vio, "D1", "roman", "target", at(time.November, 4, 12, 0), nil, 24000, 0.5)
	v2.TaskID, v2.Evidence = "T1", json.RawMessage(`{"task_id":"T1","due":"2026-11-04T11:00:00+03:00"}`)
	v3 := finding("V3", "empty_comment", rem, "D2", "olga", "contact", at(time.November, 5, 9, 0), nil, 10000, 0.3)
	v3.CallID = "C1"
	return []*funnelwatch.Violation{
		finding("V1", "no_next_step", vio, "D1", "roman", "target", at(time.November, 3, 10, 0), nil, 20000, 0.5),
		v2, v3,
		finding("V4", "overdue_task", vio, "D3", "olga", "contact", at(time.November, 3, 1, 30), ptr(at(time.November, 3, 5, 0)), 10000, 0.5),
		finding("V5", "no_next_step", vio, "D4", "roman", "contact", at(time.October, 30, 10, 0), nil, 16000, 0.5),
		finding("V6", "overdue_task", vio, "D2", "olga", "target", at(time.October, 27, 10, 0), ptr(at(time.October, 28, 10, 0)), 4000, 0.5),
		finding("V7", "no_next_step", vio, "D6", "roman", "ready", at(time.October, 20, 12, 0), ptr(at(time.October, 21, 12, 0)), 2000, 0.5),
		finding("V8", "no_next_step", vio, "D2", "olga", "contact", at(time.November, 9, 0, 0), nil, 10000, 0.2),
		finding("V9", "no_next_step", vio, "D7", "sergey", "ready", at(time.October, 19, 10, 0), nil, 30000, 0.2),
		finding("V10", "overdue_task", vio, "D2", "olga", "contact", at(time.October, 31, 15, 0), ptr(at(time.November, 4, 18, 0)), 10000, 0.4),
	}
}

// newFindingsServer runs the API on a SQLite store holding the deals and
// the findings above, with the funnel's stages named as in the
// regulations and the clock at the end of the week.
func newFindingsServer(t *testing.T) *httptest.Server {
	t.Helper()
	return newFindingsServerAt(t, weekTo)
}

// newFindingsServerAt is newFindingsServer with the clock at now.
func newFindingsServerAt(t *testing.T, now time.Time) *httptest.Server {
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
	for i, name := range []string{"Целевой клиент", "Контакт установлен", "Готов к выдаче"} {
		funnel.Pipelines[0].Stages[i].Name = name
	}
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: funnel}
	mux := http.NewServeMux()
	(&api.Server{Store: store, Workspace: "w", Ingestor: in, Tokens: []string{token}, Funnel: funnel,
		Now: func() time.Time { return now }}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if r := post(t, srv, "application/json", dealEvents); r.Accepted != 9 {
		t.Fatalf("deals: %+v", r)
	}
	err = store.Update(ctx, "w", func(tx funnelwatch.Tx) error { return tx.SaveViolations(ctx, findings()...) })
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func getViolations(t *testing.T, srv *httptest.Server, query string) api.ViolationPage {
	t.Helper()
	code, body := do(t, srv, "GET", "/api/v1/violations"+query, "", "", token)
	if code != http.StatusOK {
		t.Fatalf("GET violations%s: %d %s", query, code, body)
	}
	var p api.ViolationPage
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func ids(p api.ViolationPage) []string {
	out := []string{}
	for _, v := range p.Items {
		out = append(out, v.ID)
	}
	return out
}

func TestViolationsFilters(t *testing.T) {
	srv := newFindingsServer(t)
	// Each filter on its own, then together; lists are in opening order.
	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"V9", "V7", "V6", "V5", "V10", "V4", "V1", "V2", "V3", "V8"}},
		{"?deal_id=D1", []string{"V1", "V2"}},
		{"?user=olga", []string{"V6", "V10", "V4", "V3", "V8"}},
		{"?rule=overdue_task", []string{"V6", "V10", "V4", "V2"}},
		{"?stage=contact", []string{"V5", "V10", "V4", "V3", "V8"}},
		{"?stage=sales/target", []string{"V6", "V1", "V2"}},
		{"?stage=warmup/new", []string{}},
		{"?severity=remark", []string{"V3"}},
		{"?severity=violation", []string{"V9", "V7", "V6", "V5", "V10", "V4", "V1", "V2", "V8"}},
		{"?open=true", []string{"V9", "V5", "V1", "V2", "V3", "V8"}},
		{"?open=false", []string{"V7", "V6", "V10", "V4"}},
		// Opened in the week: not V5, V9 or V10, opened before it and
		// open in it, nor V8, opened the instant it ended.
		{"?from=2026-11-02T00:00:00%2B03:00&to=2026-11-09T00:00:00%2B03:00", []string{"V4", "V1", "V2", "V3"}},
		// 03:00 in Moscow: V4 opened at 01:30 Moscow time is 22:30 UTC,
		// after the bound.
		{"?from=2026-11-02T00:00:00Z", []string{"V4", "V1", "V2", "V3", "V8"}},
		// Opened at from is in, opened at to is out.
		{"?from=2026-11-03T01:30:00%2B03:00&to=2026-11-04T12:00:00%2B03:00", []string{"V4", "V1"}},
		{"?to=2026-10-28T00:00:00%2B03:00", []string{"V9", "V7", "V6"}},
		// A "+" left unescaped arrives as a space and is read as "+".
		{"?to=2026-10-28T00:00:00+03:00", []string{"V9", "V7", "V6"}},
		// Open at the instant the week began: V9, V5 and V10, carried in.
		{"?open_at=2026-11-02T00:00:00%2B03:00", []string{"V9", "V5", "V10"}},
		// Open at the instant V4 opened; no longer at the instant it was
		// resolved.
		{"?open_at=2026-11-03T01:30:00%2B03:00", []string{"V9", "V5", "V10", "V4"}},
		{"?open_at=2026-11-03T05:00:00%2B03:00", []string{"V9", "V5", "V10"}},
		{"?open_at=2026-11-09T00:00:00%2B03:00", []string{"V9", "V5", "V1", "V2", "V3", "V8"}},
		// With the other filters, AND.
		{"?from=2026-11-02T00:00:00%2B03:00&to=2026-11-09T00:00:00%2B03:00&open_at=2026-11-04T15:00:00%2B03:00", []string{"V1", "V2"}},
		{"?user=olga&open_at=2026-11-04T15:00:00%2B03:00", []string{"V10"}},
		{"?open=false&open_at=2026-11-04T15:00:00%2B03:00", []string{"V10"}},
		{"?user=roman&open=true&rule=no_next_step", []string{"V5", "V1"}},
	}
	for _, c := range cases {
		p := getViolations(t, srv, c.query)
		if got := ids(p); !slices.Equal(got, c.want) || p.Total != len(c.want) {
			t.Errorf("%s: %v (total %d), want %v", c.query, got, p.Total, c.want)
		}
	}
}

func TestViolationsItem(t *testing.T) {
	srv := newFindingsServer(t)
	code, body := do(t, srv, "GET", "/api/v1/violations?deal_id=D1", "", "", token)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	// V2 as the API shows it: empty ids and metric left out, an open
	// finding's resolved_at null.
	v2 := raw.Items[1]
	want := map[string]any{
		"id": "V2", "rule": "overdue_task", "severity": "violation", "deal_id": "D1", "task_id": "T1", "user": "roman",
		"pipeline": "sales", "stage": "target", "opened_at": "2026-11-04T09:00:00Z", "resolved_at": nil, "open": true,
		"message":        map[string]any{"ru": "Нарушение V2", "en": "Finding V2"},
		"recommendation": map[string]any{"ru": "Исправьте V2", "en": "Fix V2"},
		"evidence":       map[string]any{"task_id": "T1", "due": "2026-11-04T11:00:00+03:00"},
		"amount":         24000.0, "win_rate": 0.5, "money_at_risk": 12000.0,
	}
	if opened, err := time.Parse(time.RFC3339, v2["opened_at"].(string)); err == nil && opened.Equal(at(time.November, 4, 12, 0)) {
		v2["opened_at"] = want["opened_at"] // the same instant, whatever the offset
	}
	if !reflect.DeepEqual(v2, want) {
		t.Errorf("V2 =\n%v\nwant\n%v", v2, want)
	}
	// V1: no task, no evidence ({}).
	if _, ok := raw.Items[0]["task_id"]; ok || raw.Items[0]["evidence"] == nil || len(raw.Items[0]["evidence"].(map[string]any)) != 0 {
		t.Errorf("V1 = %v", raw.Items[0])
	}

	p := getViolations(t, srv, "?deal_id=D3")
	if v := p.Items[0]; v.Open || v.ResolvedAt == nil || !v.ResolvedAt.Equal(at(time.November, 3, 5, 0)) || v.CallID != "" {
		t.Errorf("V4 = %+v, want resolved at 03.11 05:00", v)
	}
	if v := getViolations(t, srv, "?severity=remark").Items[0]; v.CallID != "C1" || v.TaskID != "" {
		t.Errorf("V3 = %+v, want call C1", v)
	}
}

func TestViolationsPages(t *testing.T) {
	srv := newFindingsServer(t)
	p := getViolations(t, srv, "?limit=3")
	if got := ids(p); !slices.Equal(got, []string{"V9", "V7", "V6"}) || p.Total != 10 || p.Limit != 3 || p.NextOffset == nil || *p.NextOffset != 3 {
		t.Errorf("first page: %v total %d next %v", got, p.Total, p.NextOffset)
	}
	p = getViolations(t, srv, "?limit=3&offset=3")
	if got := ids(p); !slices.Equal(got, []string{"V5", "V10", "V4"}) || p.Total != 10 || p.NextOffset == nil || *p.NextOffset != 6 {
		t.Errorf("second page: %v total %d next %v", got, p.Total, p.NextOffset)
	}
	p = getViolations(t, srv, "?limit=4&offset=6")
	if got := ids(p); !slices.Equal(got, []string{"V1", "V2", "V3", "V8"}) || p.Total != 10 || p.NextOffset != nil {
		t.Errorf("last page: %v total %d next %v", got, p.Total, p.NextOffset)
	}
	// The total counts what the filter selects, not the page.
	p = getViolations(t, srv, "?user=olga&limit=1")
	if got := ids(p); !slices.Equal(got, []string{"V6"}) || p.Total != 5 {
		t.Errorf("olga's first: %v total %d, want [V6] of 5", got, p.Total)
	}
	p = getViolations(t, srv, "?open_at=2026-11-09T00:00:00Z&limit=2&offset=1")
	if got := ids(p); !slices.Equal(got, []string{"V5", "V1"}) || p.Total != 6 {
		t.Errorf("open at the week's end, second and third: %v total %d, want [V5 V1] of 6", got, p.Total)
	}
	p = getViolations(t, srv, "?offset=100")
	if len(p.Items) != 0 || p.Items == nil || p.Total != 10 || p.Limit != 100 {
		t.Errorf("past the end: %+v", p)
	}
}

func TestViolationsBadParams(t *testing.T) {
	srv := newFindingsServer(t)
	for query, want := range map[string]string{
		"?open=perhaps":   "open must be true or false",
		"?severity=high":  "severity must be violation or remark",
		"?from=yesterday": "from must be an RFC 3339 time",
		"?to=2026-11-02":  "to must be an RFC 3339 time",
		"?open_at=now":    "open_at must be an RFC 3339 time",
		"?from=2026-11-09T00:00:00Z&to=2026-11-02T00:00:00Z": "from must be before to",
		"?limit=0":     "limit must be 1..1000",
		"?limit=1001":  "limit must be 1..1000",
		"?offset=-1":   "offset must be",
		"?offset=many": "offset must be",
	} {
		code, body := do(t, srv, "GET", "/api/v1/violations"+query, "", "", token)
		if code != http.StatusBadRequest || !strings.Contains(string(body), want) || !strings.Contains(string(body), `"code":"invalid"`) {
			t.Errorf("%s: %d %s, want 400 with %q", query, code, body, want)
		}
	}
}

func TestReadsNeedToken(t *testing.T) {
	srv := newFindingsServer(t)
	for _, path := range []string{"/api/v1/violations", "/api/v1/reports/quality"} {
		for _, tok := range []string{"", "wrong"} {
			if code, body := do(t, srv, "GET", path, "", "", tok); code != http.StatusUnauthorized || strings.Contains(string(body), "V1") {
				t.Errorf("GET %s with token %q: %d %s, want 401", path, tok, code, body)
			}
		}
	}
}
