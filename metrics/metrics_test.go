package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/metrics"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// The figures of a server that took three events (one rejected) and
// whose engine found an overdue task, scraped as Prometheus would.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	regs, err := regulations.ParseFile("../testdata/regulations.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureWorkspace(ctx, "w", regs.Company); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 10, 30, 0, 0, regs.Location)
	in := &engine.Ingestor{Store: st, Workspace: "w", Funnel: &regs.Funnel}
	live := &engine.Live{Store: st, Workspace: "w", Regs: regs, Ingestor: in, Now: func() time.Time { return now }}
	var events []funnelwatch.Event
	for _, js := range []string{
		`{"id":"e1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman"}}`,
		`{"id":"e2","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"nope","stage":"target"}}`,
		`{"id":"e3","type":"note.added","at":"2026-11-02T10:01:00+03:00","note":{"id":"N1","deal_id":"D1","author":"roman","text":"Позвонил, клиент думает до завтра"}}`,
	} {
		e, err := funnelwatch.DecodeEvent([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if _, err := in.Ingest(ctx, events); err != nil {
		t.Fatal(err)
	}
	// The second step reads back the event of the robot's task.
	for range 2 {
		if err := live.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m := metrics.New(metrics.Sources{Store: st, Workspace: "w", Ingestor: in, Engine: live, Dispatcher: &engine.Dispatcher{},
		Now: func() time.Time { return now.Add(2 * time.Second) }})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/deals/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	mux.Handle("GET /metrics", m.Handler())
	srv := httptest.NewServer(m.Instrument(mux))
	defer srv.Close()
	for range 3 {
		resp, err := http.Get(srv.URL + "/api/v1/deals/D" + "42")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`funnelwatch_events_ingested_total{outcome="accepted"} 3`, // two posted, the robot's task
		`funnelwatch_events_ingested_total{outcome="rejected"} 1`,
		`funnelwatch_events_ingested_total{outcome="duplicate"} 0`,
		`funnelwatch_engine_lag_events 0`,
		`funnelwatch_engine_clock_lag_seconds 2`,
		`funnelwatch_violations_open 1`,                  // the robot's task, overdue since 10:15
		`funnelwatch_outbox_actions{status="pending"} 1`, // the overdue notice
		`funnelwatch_outbox_actions{status="done"} 1`,    // the robot's task
		`funnelwatch_outbox_deliveries_total{result="failed"} 0`,
		`funnelwatch_http_request_duration_seconds_count{code="404",route="GET /api/v1/deals/{id}"} 3`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !regexp.MustCompile(`funnelwatch_timers_pending [1-9]`).MatchString(text) {
		t.Error("no pending timers reported (the stage SLA and the lifetime are ahead)")
	}
}
