package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// newLiveServer runs the API with the rules engine of the contract's
// example regulations on a fresh SQLite store, its wall clock set by the
// test.
func newLiveServer(t *testing.T, now *time.Time) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	regs, err := regulations.ParseFile("../testdata/regulations.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.EnsureWorkspace(ctx, "w", regs.Company); err != nil {
		t.Fatal(err)
	}
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: &regs.Funnel}
	live := &engine.Live{Store: store, Workspace: "w", Regs: regs, Ingestor: in, Now: func() time.Time { return *now }}
	mux := http.NewServeMux()
	(&api.Server{Store: store, Workspace: "w", Ingestor: in, Tokens: []string{token}, Funnel: &regs.Funnel,
		Engine: live, Now: func() time.Time { return *now }}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getJSON(t *testing.T, srv *httptest.Server, path string, v any) {
	t.Helper()
	code, b := do(t, srv, "GET", path, "", "", token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}

// The seed's story through the API with the engine live: a new lead on
// «Целевой клиент»; the robot sets «Получить контакт клиента» for 15
// minutes; nobody does it. At 10:20 the reads show the robot's task, the
// overdue finding on Роман with its evidence and the money at risk, and
// in the outbox the task (done) and the notice to Роман and Сергей
// (pending, for the notification channels).
func TestReadsSeeTheEngine(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, msk)
	srv := newLiveServer(t, &now)
	r := post(t, srv, "application/json", `[{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00",
		"deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman","amount":90000}}]`)
	if r.Accepted != 1 {
		t.Fatalf("%+v", r)
	}
	now = time.Date(2026, 11, 2, 10, 20, 0, 0, msk)

	var tasks struct {
		Items []struct {
			ID, Text, Assignee string
		} `json:"items"`
	}
	getJSON(t, srv, "/api/v1/tasks?deal_id=D1", &tasks)
	if len(tasks.Items) != 1 || tasks.Items[0].ID != "sales.target.on_enter:e1:0" || tasks.Items[0].Assignee != "roman" {
		t.Fatalf("tasks of D1: %+v", tasks.Items)
	}

	var vs api.ViolationPage
	getJSON(t, srv, "/api/v1/violations?deal_id=D1&open=true", &vs)
	if vs.Total != 1 || len(vs.Items) != 1 {
		t.Fatalf("open findings of D1: %+v", vs)
	}
	v := vs.Items[0]
	if v.Rule != "task_overdue" || v.User != "roman" || v.Stage != "target" || !v.OpenedAt.Equal(time.Date(2026, 11, 2, 10, 15, 0, 0, msk)) {
		t.Errorf("finding %+v", v)
	}
	if v.MoneyAtRisk != 90000 || v.Message.RU == "" || v.Recommendation.EN == "" {
		t.Errorf("money %v, texts %+v %+v", v.MoneyAtRisk, v.Message, v.Recommendation)
	}
	var ev map[string]any
	if err := json.Unmarshal(v.Evidence, &ev); err != nil || ev["task_text"] != "Получить контакт клиента" {
		t.Errorf("evidence %s", v.Evidence)
	}

	var acts struct {
		Items []struct {
			Key, Type, Status string
			Action            struct{ Recipients []string } `json:"action"`
		} `json:"items"`
	}
	getJSON(t, srv, "/api/v1/actions?deal_id=D1", &acts)
	if len(acts.Items) != 2 {
		t.Fatalf("actions of D1: %+v", acts.Items)
	}
	if a := acts.Items[0]; a.Type != "task" || a.Status != "done" {
		t.Errorf("robot task action %+v", a)
	}
	if a := acts.Items[1]; a.Type != "notify" || a.Status != "pending" || len(a.Action.Recipients) != 2 {
		t.Errorf("overdue notice %+v", a)
	}
	getJSON(t, srv, "/api/v1/actions?type=notify&status=done", &acts)
	if len(acts.Items) != 0 {
		t.Errorf("notices delivered without a channel: %+v", acts.Items)
	}
	if code, b := do(t, srv, "GET", "/api/v1/actions?status=maybe", "", "", token); code != http.StatusBadRequest {
		t.Errorf("status=maybe: %d %s", code, b)
	}
	if code, _ := do(t, srv, "GET", "/api/v1/actions", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}

	// Роман does the task at 10:25: the finding resolves then.
	now = time.Date(2026, 11, 2, 10, 25, 0, 0, msk)
	post(t, srv, "application/json", `[{"id":"e2","type":"task.completed","at":"2026-11-02T10:25:00+03:00","task_id":"sales.target.on_enter:e1:0","result":"Телефон есть"},
		{"id":"e3","type":"task.created","at":"2026-11-02T10:25:00+03:00","task":{"id":"T2","deal_id":"D1","due":"2026-11-02T12:00:00+03:00","text":"Позвонить"}}]`)
	getJSON(t, srv, "/api/v1/violations?deal_id=D1&rule=task_overdue", &vs)
	if len(vs.Items) != 1 || vs.Items[0].Open || !vs.Items[0].ResolvedAt.Equal(now) {
		t.Errorf("after the task was done: %+v", vs.Items)
	}
}
