package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// A token an admin issued works beside the environment's until it is
// revoked.
func TestIssuedTokens(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "w", "Test"); err != nil {
		t.Fatal(err)
	}
	keys := &auth.APITokens{Store: store, Workspace: "w"}
	mux := http.NewServeMux()
	(&api.Server{Store: store, Workspace: "w", Ingestor: &engine.Ingestor{Store: store, Workspace: "w", Funnel: storetest.Funnel()},
		Tokens: []string{token}, Keys: keys}).Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	issued, rec, err := keys.Issue(ctx, "amoCRM", "anna", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{token, issued} {
		if code, body := do(t, srv, "POST", "/api/v1/events", "application/json", batch, tok); code != http.StatusOK {
			t.Errorf("token %.12s…: %d %s", tok, code, body)
		}
	}
	for _, tok := range []string{"fw_wrong", issued + "x", rec.Hash} {
		if code, _ := do(t, srv, "GET", "/api/v1/deals/D1", "", "", tok); code != http.StatusUnauthorized {
			t.Errorf("token %.12s…: %d, want 401", tok, code)
		}
	}
	if err := keys.Revoke(ctx, rec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, srv, "GET", "/api/v1/deals/D1", "", "", issued); code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", code)
	}
	if code, _ := do(t, srv, "GET", "/api/v1/deals/D1", "", "", token); code != http.StatusOK {
		t.Errorf("the environment's token after a revocation: %d, want 200", code)
	}
}
