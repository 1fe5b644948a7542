package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/web"
)

// demoSite is the demo company (its 90 days, about 50,000 events) in a
// SQLite store behind the pages, on a fixed clock: built once for the
// tests that need the real figures, shared by them (they only read).
type demoSite struct {
	testSite
	funnel *funnelwatch.Funnel
	regs   *regulations.Regulations
	yaml   []byte
	now    time.Time
}

var (
	demoOnce sync.Once
	demoS    *demoSite
	demoErr  error
	demoDir  string
)

// demoNow is the demo's "now": a Monday afternoon, Moscow time.
var demoNow = time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoDir != "" {
		os.RemoveAll(demoDir)
	}
	os.Exit(code)
}

func newDemoSite(t testing.TB) *demoSite {
	t.Helper()
	demoOnce.Do(func() { demoS, demoErr = buildDemoSite() })
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoS
}

func buildDemoSite() (*demoSite, error) {
	ctx := context.Background()
	began := time.Now()
	co, err := demo.Generate(demo.Options{Seed: 1, End: demoNow})
	if err != nil {
		return nil, err
	}
	regs, err := regulations.Parse(co.Regulations)
	if err != nil {
		return nil, err
	}
	if demoDir, err = os.MkdirTemp("", "fw-web-demo"); err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(demoDir, "demo.db"))
	if err != nil {
		return nil, err
	}
	if err := store.EnsureWorkspace(ctx, "w", regs.Company); err != nil {
		return nil, err
	}
	f := &regs.Funnel
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: f}
	for i := 0; i < len(co.Events); i += 5000 {
		if _, err := in.Ingest(ctx, co.Events[i:min(i+5000, len(co.Events))]); err != nil {
			return nil, err
		}
	}
	if err := in.Sync(ctx); err != nil {
		return nil, err
	}
	sessions := &auth.Sessions{Store: store, Workspace: "w", Funnel: f, Brake: &auth.Brake{}}
	for _, u := range []string{"sergey", "roman", "anna", "admin"} {
		if err := sessions.SetPassword(ctx, u, u+"-password", demoNow); err != nil {
			return nil, err
		}
	}
	pages, err := web.New(web.Server{Store: store, Workspace: "w", Funnel: f, Regulations: regs, Source: co.Regulations, Sync: in.Sync,
		Ingestor: in, Sessions: sessions, Now: func() time.Time { return demoNow }})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	pages.Routes(mux)
	srv := httptest.NewServer(mux)
	println("demo site:", len(co.Events), "events in", time.Since(began).Round(time.Millisecond).String())
	return &demoSite{testSite: testSite{URL: srv.URL, store: store, in: in}, funnel: f, regs: regs, yaml: co.Regulations, now: demoNow}, nil
}
