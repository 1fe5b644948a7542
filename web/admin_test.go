package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/web"
)

// newAdminSite is the test site with an admin, Анна, and API tokens.
func newAdminSite(t *testing.T) (*testSite, *auth.APITokens) {
	var keys *auth.APITokens
	s := newSiteWith(t, func(w *web.Server) {
		w.Funnel.Users = append(w.Funnel.Users, funnelwatch.User{ID: "anna", Name: "Анна", Role: funnelwatch.RoleAdmin, Email: "anna@example.com"})
		keys = &auth.APITokens{Store: w.Store, Workspace: w.Workspace}
		w.Tokens = keys
	})
	return s, keys
}

var tokenRE = regexp.MustCompile(`<code id="issued-token">(fw_[A-Za-z0-9_-]+)</code>`)

func TestAdminPageIsTheAdminsOnly(t *testing.T) {
	s, _ := newAdminSite(t)
	for _, user := range []string{"sergey", "roman"} {
		c := browser(t)
		csrf := s.signIn(t, c, user, user+"-password")
		code, page := get(t, c, s.URL+"/admin")
		if code != http.StatusNotFound {
			t.Errorf("%s: GET /admin = %d, want 404", user, code)
		}
		if strings.Contains(page, `id="nav-admin"`) {
			t.Errorf("%s sees the admin link", user)
		}
		for _, path := range []string{"/admin/tokens", "/admin/users/olga/password", "/admin/users/olga/signout"} {
			resp := post(t, c, s.URL+path, url.Values{"csrf": {csrf}, "name": {"x"}, "password": {"длинный-пароль"}}, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: POST %s = %d, want 404", user, path, resp.StatusCode)
			}
		}
	}
	// Olga's password is still hers.
	if _, _, err := s.sessions.SignIn(context.Background(), "olga", "olga-password", "t", time.Now()); err != nil {
		t.Fatalf("olga's password changed by a non-admin: %v", err)
	}
}

func TestAdminSetsPasswordsAndSignsOut(t *testing.T) {
	s, _ := newAdminSite(t)
	admin := browser(t)
	csrf := s.signIn(t, admin, "anna", "anna-password")
	roman := browser(t)
	s.signIn(t, roman, "roman", "roman-password")

	code, page := get(t, admin, s.URL+"/admin")
	if code != 200 || !strings.Contains(page, `id="nav-admin"`) {
		t.Fatalf("GET /admin = %d, nav link %v", code, strings.Contains(page, `id="nav-admin"`))
	}
	row := regexp.MustCompile(`(?s)<tr class="admin-user" data-user="roman">.*?</tr>`).FindString(page)
	if !strings.Contains(row, "задан") || !strings.Contains(row, `<td class="num sessions">1</td>`) {
		t.Errorf("roman's row does not show his password and one session:\n%s", row)
	}

	// A password too short is refused and changes nothing.
	resp := post(t, admin, s.URL+"/admin/users/roman/password", url.Values{"csrf": {csrf}, "password": {"short"}}, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "problem=") {
		t.Fatalf("short password: %d → %q, want a redirect with the problem", resp.StatusCode, loc)
	}
	_, page = get(t, admin, s.URL+resp.Header.Get("Location"))
	if !strings.Contains(page, `id="admin-problem"`) {
		t.Error("the page does not say the password was refused")
	}
	if code, _ := get(t, roman, s.URL+"/"); code != 200 {
		t.Fatalf("a refused password signed roman out: %d", code)
	}

	// A new one: the old stops working, his browsers are signed out.
	resp = post(t, admin, s.URL+"/admin/users/roman/password", url.Values{"csrf": {csrf}, "password": {"новый-пароль-1"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=") {
		t.Fatalf("set password: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, _ := get(t, roman, s.URL+"/"); code != http.StatusSeeOther {
		t.Errorf("roman's browser still signed in after a new password: %d", code)
	}
	ctx := context.Background()
	if _, _, err := s.sessions.SignIn(ctx, "roman", "roman-password", "t", time.Now()); err == nil {
		t.Error("the old password still signs in")
	}
	if _, _, err := s.sessions.SignIn(ctx, "roman", "новый-пароль-1", "t", time.Now()); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}

	// Sign a user out everywhere.
	olga := browser(t)
	s.signIn(t, olga, "olga", "olga-password")
	resp = post(t, admin, s.URL+"/admin/users/olga/signout", url.Values{"csrf": {csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign olga out: %d", resp.StatusCode)
	}
	if code, _ := get(t, olga, s.URL+"/"); code != http.StatusSeeOther {
		t.Errorf("olga's browser still signed in: %d", code)
	}
	if code, _ := get(t, admin, s.URL+"/"); code != 200 {
		t.Errorf("signing olga out signed the admin out: %d", code)
	}
	// A user not in the regulations file: 404.
	resp = post(t, admin, s.URL+"/admin/users/nobody/password", url.Values{"csrf": {csrf}, "password": {"длинный-пароль"}}, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("password of an unknown user: %d, want 404", resp.StatusCode)
	}
	// Without the form token, nothing happens.
	resp = post(t, admin, s.URL+"/admin/users/olga/password", url.Values{"password": {"длинный-пароль"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("no CSRF token: %d, want 403", resp.StatusCode)
	}
}

func TestAdminIssuesAndRevokesAPITokens(t *testing.T) {
	s, keys := newAdminSite(t)
	admin := browser(t)
	csrf := s.signIn(t, admin, "anna", "anna-password")
	ctx := context.Background()

	resp := post(t, admin, s.URL+"/admin/tokens", url.Values{"csrf": {csrf}, "name": {"  "}}, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a token without a name: %d, want 400", resp.StatusCode)
	}

	req, _ := http.NewRequest("POST", s.URL+"/admin/tokens", strings.NewReader(url.Values{"csrf": {csrf}, "name": {"amoCRM"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r, err := admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, r)
	m := tokenRE.FindStringSubmatch(body)
	if r.StatusCode != 200 || m == nil {
		t.Fatalf("issue a token: %d, no token shown in\n%s", r.StatusCode, body)
	}
	token := m[1]
	if ok, err := keys.Valid(ctx, token); err != nil || !ok {
		t.Fatalf("the issued token is not valid: %v %v", ok, err)
	}
	_, page := get(t, admin, s.URL+"/admin")
	if strings.Contains(page, token) {
		t.Error("the token is shown again")
	}
	row := regexp.MustCompile(`(?s)<tr class="api-token" data-token="([0-9a-f]+)">.*?</tr>`).FindStringSubmatch(page)
	if row == nil || !strings.Contains(row[0], "amoCRM") || !strings.Contains(row[0], token[:9]) || !strings.Contains(row[0], "действует") || !strings.Contains(row[0], "Анна") {
		t.Fatalf("the token's row (name, start, active, issuer) is missing:\n%s", page)
	}

	resp = post(t, admin, s.URL+"/admin/tokens/"+row[1]+"/revoke", url.Values{"csrf": {csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if ok, _ := keys.Valid(ctx, token); ok {
		t.Error("a revoked token is valid")
	}
	_, page = get(t, admin, s.URL+"/admin")
	if !regexp.MustCompile(`(?s)data-token="` + row[1] + `">.*?отозван`).MatchString(page) {
		t.Error("the revoked token is not shown revoked")
	}
	resp = post(t, admin, s.URL+"/admin/tokens/nope/revoke", url.Values{"csrf": {csrf}}, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("revoke an unknown token: %d, want 404", resp.StatusCode)
	}
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
