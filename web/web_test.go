package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
	"github.com/funnelwatch/funnelwatch/web"
)

func TestFunnelPage(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	f := storetest.Funnel()
	f.Pipelines[0].Stages[2].Critical = true // «ready», as «Готов к выдаче» is
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: f}
	var events []funnelwatch.Event
	for _, l := range []string{
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"ready","amount":1234567}}`,
		`{"id":"2","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales","stage":"ready","amount":100000}}`,
		`{"id":"3","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D3","pipeline":"sales","stage":"target","amount":500}}`,
		`{"id":"4","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D3","to_stage":"won"}`,
	} {
		e, err := funnelwatch.DecodeEvent([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if _, err := in.Ingest(ctx, events); err != nil {
		t.Fatal(err)
	}
	pages, err := web.New(web.Server{Store: store, Workspace: "w", Funnel: f, Sync: in.Sync})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	pages.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	nb := "\u202f"
	checks := map[string]string{
		"the critical stage is marked":          `(?s)data-stage="sales/ready">.*?КЭВ`,
		"two deals and their money on «ready»":  `(?s)data-stage="sales/ready">.*?<td class="num">2</td>.*?1` + nb + `334` + nb + `567`,
		"the won deal counts on its stage":      `(?s)data-stage="sales/won">.*?<td class="num">1</td>`,
		"open deals exclude won and lost":       `В работе / open: <b>2</b>`,
		"the stylesheet is linked and embedded": `/static/style.css`,
	}
	for what, re := range checks {
		if !regexp.MustCompile(re).MatchString(page) {
			t.Errorf("%s: no match for %s in\n%s", what, re, page)
		}
	}
	resp, err = http.Get(srv.URL + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	css, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(css), ".kev") {
		t.Errorf("style.css: %d", resp.StatusCode)
	}
}
