package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

func TestAPITokens(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, ws := range []string{"w", "other"} {
		if err := store.EnsureWorkspace(ctx, ws, ws); err != nil {
			t.Fatal(err)
		}
	}
	k := &auth.APITokens{Store: store, Workspace: "w"}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

	for _, bad := range []string{"", "   ", strings.Repeat("я", auth.MaxTokenName+1)} {
		if _, _, err := k.Issue(ctx, bad, "sergey", now); funnelwatch.ErrorCode(err) != funnelwatch.EINVALID {
			t.Errorf("name %q: err = %v, want EINVALID", bad, err)
		}
	}
	token, rec, err := k.Issue(ctx, "  amoCRM  ", "sergey", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, auth.APITokenPrefix) || len(token) < 40 || rec.Name != "amoCRM" || !strings.HasPrefix(token, rec.Prefix) || rec.Hash == token {
		t.Fatalf("issued %q as %+v", token, rec)
	}
	second, _, err := k.Issue(ctx, "1С", "sergey", now)
	if err != nil || second == token {
		t.Fatalf("second token %q, %v", second, err)
	}
	valid := func(tok string) bool {
		t.Helper()
		ok, err := k.Valid(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !valid(token) || !valid(second) {
		t.Fatal("an issued token is not valid")
	}
	for _, bad := range []string{"", token[:len(token)-1], token + "x", rec.Hash, strings.TrimPrefix(token, auth.APITokenPrefix)} {
		if valid(bad) {
			t.Errorf("%q is valid", bad)
		}
	}
	if ok, _ := (&auth.APITokens{Store: store, Workspace: "other"}).Valid(ctx, token); ok {
		t.Error("another workspace takes the token")
	}
	if err := k.Revoke(ctx, rec.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if valid(token) {
		t.Error("a revoked token is valid")
	}
	if !valid(second) {
		t.Error("revoking one token revoked another")
	}
	if err := k.Revoke(ctx, "nope", now); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
		t.Errorf("revoke an unknown id: err = %v, want ENOTFOUND", err)
	}
}
