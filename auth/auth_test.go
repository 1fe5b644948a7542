package auth_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

func TestPassword(t *testing.T) {
	h, err := auth.HashPassword("секретный пароль")
	if err != nil {
		t.Fatal(err)
	}
	if !auth.CheckPassword(h, "секретный пароль") {
		t.Error("the right password does not match")
	}
	for _, bad := range []string{"", "секретный парол", "Секретный пароль"} {
		if auth.CheckPassword(h, bad) {
			t.Errorf("%q matches", bad)
		}
	}
	if h2, _ := auth.HashPassword("секретный пароль"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, malformed := range []string{"", "plain", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$bcrypt$x$y$z$w"} {
		if auth.CheckPassword(malformed, "") {
			t.Errorf("malformed hash %q matches", malformed)
		}
	}
}

func TestCSRF(t *testing.T) {
	a, b := auth.NewToken(), auth.NewToken()
	if a == b || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if !auth.ValidCSRF(a, auth.CSRFToken(a)) || auth.ValidCSRF(b, auth.CSRFToken(a)) || auth.ValidCSRF("", "") {
		t.Error("a form token is valid for its own session only")
	}
}

func funnel() *funnelwatch.Funnel {
	return &funnelwatch.Funnel{Users: []funnelwatch.User{
		{ID: "admin", Role: funnelwatch.RoleAdmin},
		{ID: "head", Role: funnelwatch.RoleSupervisor},
		{ID: "lead", Role: funnelwatch.RoleSupervisor, Supervisor: "head"},
		{ID: "anna", Role: funnelwatch.RoleManager, Supervisor: "lead"},
		{ID: "roman", Role: funnelwatch.RoleManager, Supervisor: "head"},
		{ID: "vera", Role: funnelwatch.RoleManager},
		{ID: "loop1", Role: funnelwatch.RoleManager, Supervisor: "loop2"},
		{ID: "loop2", Role: funnelwatch.RoleManager, Supervisor: "loop1"},
	}}
}

func TestScope(t *testing.T) {
	f := funnel()
	for _, c := range []struct {
		user string
		want []string // nil: everyone
	}{
		{"admin", nil},
		// the head sees down the whole chain, through the team lead
		{"head", []string{"anna", "head", "lead", "roman"}},
		{"lead", []string{"anna", "lead"}},
		{"anna", []string{"anna"}},
		// a cycle in the file does not hang the walk
		{"loop1", []string{"loop1"}},
	} {
		u, _ := f.User(c.user)
		s := auth.ScopeOf(f, *u)
		if got := s.Users(); !slices.Equal(got, c.want) {
			t.Errorf("%s sees %v, want %v", c.user, got, c.want)
		}
	}
	anna, _ := f.User("anna")
	if s := auth.ScopeOf(f, *anna); s.Sees("roman") || !s.Sees("anna") || s.Only() != "anna" {
		t.Error("a manager sees only their own")
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	m := &auth.Sessions{Store: store, Workspace: "w", Funnel: funnel(), TTL: time.Hour, Brake: &auth.Brake{MaxFailures: 3}}
	if err := m.SetPassword(ctx, "anna", "short", now); funnelwatch.ErrorCode(err) != funnelwatch.EINVALID {
		t.Errorf("a short password: %v", err)
	}
	if err := m.SetPassword(ctx, "nobody", "long enough", now); funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
		t.Errorf("a user not in the file: %v", err)
	}
	if err := m.SetPassword(ctx, "anna", "пароль анны", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.SignIn(ctx, "roman", "пароль анны", "1.2.3.4", now); err != auth.ErrBadCredentials {
		t.Errorf("a user without a password signs in: %v", err)
	}
	token, _, err := m.SignIn(ctx, "anna", "пароль анны", "1.2.3.4", now)
	if err != nil {
		t.Fatal(err)
	}
	u, err := m.Authenticate(ctx, token, now.Add(59*time.Minute))
	if err != nil || u.ID != "anna" {
		t.Fatalf("Authenticate = %v, %v", u.ID, err)
	}
	if _, err := m.Authenticate(ctx, token, now.Add(time.Hour)); funnelwatch.ErrorCode(err) != funnelwatch.EUNAUTHORIZED {
		t.Errorf("an expired session: %v", err)
	}
	if err := m.SignOut(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Authenticate(ctx, token, now); funnelwatch.ErrorCode(err) != funnelwatch.EUNAUTHORIZED {
		t.Errorf("a signed-out session: %v", err)
	}
	t.Run("Brake", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			if _, _, err := m.SignIn(ctx, "anna", "guess", "5.6.7.8", now); err != auth.ErrBadCredentials {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if _, _, err := m.SignIn(ctx, "anna", "пароль анны", "5.6.7.8", now.Add(30*time.Second)); err != auth.ErrTooManyAttempts {
			t.Errorf("the fourth try within the minute, right password: %v, want refused", err)
		}
		if _, _, err := m.SignIn(ctx, "anna", "пароль анны", "5.6.7.8", now.Add(2*time.Minute)); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
	t.Run("NewPasswordEndsSessions", func(t *testing.T) {
		token, _, err := m.SignIn(ctx, "anna", "пароль анны", "1.2.3.4", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetPassword(ctx, "anna", "новый пароль", now); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Authenticate(ctx, token, now); err == nil {
			t.Error("the old session survives a new password")
		}
	})
}
