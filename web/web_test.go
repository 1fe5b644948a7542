package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
	"github.com/funnelwatch/funnelwatch/web"
)

// testSite is a server over a small funnel (storetest's) with four deals:
// D1, D2 on «ready» (Роман's and Ольга's), D3 won, D4 Ольга's on «target».
type testSite struct {
	URL   string
	store funnelwatch.Store
	in    *engine.Ingestor
	// sessions signs the site's users in.
	sessions *auth.Sessions
}

func newSite(t *testing.T) *testSite { t.Helper(); return newSiteWith(t, nil) }

// newSiteWith is newSite with the pages' server set up by set first.
func newSiteWith(t *testing.T, set func(*web.Server)) *testSite {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	f := storetest.Funnel()
	f.Pipelines[0].Stages[2].Critical = true // «ready», as «Готов к выдаче» is
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: f}
	var events []funnelwatch.Event
	for _, l := range []string{
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"ready","amount":1234567,"responsible":"roman","name":"BMW X5"}}`,
		`{"id":"2","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D2","pipeline":"sales","stage":"ready","amount":100000,"responsible":"olga"}}`,
		`{"id":"3","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D3","pipeline":"sales","stage":"target","amount":500,"responsible":"roman"}}`,
		`{"id":"4","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D3","to_stage":"won"}`,
		`{"id":"5","type":"task.created","at":"2026-11-02T11:00:00+03:00","task":{"id":"T1","deal_id":"D1","assignee":"roman","due":"2026-11-03T10:00:00+03:00","text":"Перезвонить"}}`,
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
	sessions := &auth.Sessions{Store: store, Workspace: "w", Funnel: f, Brake: &auth.Brake{}}
	server := web.Server{Store: store, Workspace: "w", Funnel: f, Sync: in.Sync, Ingestor: in, Sessions: sessions}
	if set != nil {
		set(&server) // may add users to the funnel
	}
	for _, u := range f.Users {
		if err := sessions.SetPassword(ctx, u.ID, u.ID+"-password", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	pages, err := web.New(server)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	pages.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testSite{URL: srv.URL, store: store, in: in, sessions: sessions}
}

// browser is an HTTP client with cookies that does not follow redirects.
func browser(t testing.TB) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var preRE = regexp.MustCompile(`name="pre" value="([^"]+)"`)
var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t testing.TB, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func post(t testing.TB, c *http.Client, u string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// signIn signs c in as user; it returns the CSRF token of the session.
func (s *testSite) signIn(t testing.TB, c *http.Client, user, password string) string {
	t.Helper()
	_, page := get(t, c, s.URL+"/signin")
	m := preRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no pre token on the sign-in page:\n%s", page)
	}
	resp := post(t, c, s.URL+"/signin", url.Values{"pre": {m[1]}, "user": {user}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d", user, resp.StatusCode)
	}
	_, page = get(t, c, s.URL+"/")
	m = csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token after signing in:\n%s", page)
	}
	return m[1]
}

func TestFunnelPage(t *testing.T) {
	s := newSite(t)
	c := browser(t)
	s.signIn(t, c, "sergey", "sergey-password")
	code, page := get(t, c, s.URL+"/funnel")
	if code != 200 {
		t.Fatalf("GET /funnel = %d", code)
	}
	nb := "\u202f"
	checks := map[string]string{
		"the critical stage is marked":              `(?s)data-stage="ready"[^>]*>.*?КЭВ`,
		"two deals on «ready», linked to the board": `(?s)data-stage="ready"[^>]*>.*?data-value="2"><a href="/deals\?pipeline=sales&amp;stage=ready"`,
		"and their money":                           `(?s)data-stage="ready"[^>]*>.*?1` + nb + `334` + nb + `567`,
		"the won deal counts on its stage":          `(?s)data-stage="won"[^>]*>.*?data-value="1">1</td>`,
		"open deals exclude won and lost":           `В работе: <b id="open-now">2</b>`,
		"the ladder chart":                          `<svg class="chart"`,
		"the stylesheet is linked and embedded":     `/static/style.css`,
	}
	for what, re := range checks {
		if !regexp.MustCompile(re).MatchString(page) {
			t.Errorf("%s: no match for %s in\n%s", what, re, page)
		}
	}
	code, css := get(t, c, s.URL+"/static/style.css")
	if code != 200 || !strings.Contains(css, ".kev") {
		t.Errorf("style.css: %d", code)
	}
}

func TestSignIn(t *testing.T) {
	s := newSite(t)
	t.Run("PagesNeedASession", func(t *testing.T) {
		c := browser(t)
		for _, p := range []string{"/", "/funnel", "/managers", "/managers/roman", "/violations", "/deals", "/deals/D1", "/tasks", "/regulations"} {
			resp, err := c.Get(s.URL + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin?next=") {
				t.Errorf("GET %s without a session = %d %s, want a redirect to /signin", p, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		c := browser(t)
		_, page := get(t, c, s.URL+"/signin")
		pre := preRE.FindStringSubmatch(page)[1]
		if resp := post(t, c, s.URL+"/signin", url.Values{"pre": {pre}, "user": {"roman"}, "password": {"nope"}}, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password: %d", resp.StatusCode)
		}
		if resp := post(t, c, s.URL+"/signin", url.Values{"pre": {"forged"}, "user": {"roman"}, "password": {"roman-password"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a sign-in form without the cookie's token: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("CookieFlags", func(t *testing.T) {
		c := browser(t)
		_, page := get(t, c, s.URL+"/signin")
		pre := preRE.FindStringSubmatch(page)[1]
		resp := post(t, c, s.URL+"/signin", url.Values{"pre": {pre}, "user": {"roman"}, "password": {"roman-password"}}, nil)
		var found bool
		for _, h := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(h, "fw_session=") && len(h) > 20 {
				found = true
				if !strings.Contains(h, "HttpOnly") || !strings.Contains(h, "SameSite=Lax") {
					t.Errorf("session cookie %q: want HttpOnly and SameSite=Lax", h)
				}
			}
		}
		if !found {
			t.Error("no session cookie")
		}
		for _, h := range resp.Header.Values("Set-Cookie") {
			if strings.Contains(h, "Secure") {
				t.Errorf("cookie %q is Secure over plain HTTP without a TLS proxy", h)
			}
		}
	})
	t.Run("SecureBehindATLSProxy", func(t *testing.T) {
		proxied := newSiteWith(t, func(w *web.Server) { w.SecureCookies = true })
		resp, err := browser(t).Get(proxied.URL + "/signin?lang=en")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Header.Values("Set-Cookie")
		if len(cookies) < 2 {
			t.Fatalf("sign-in page cookies: %q, want the form's and the language's", cookies)
		}
		for _, h := range cookies {
			if !strings.Contains(h, "; Secure") {
				t.Errorf("cookie %q is not Secure behind a TLS proxy", h)
			}
		}
	})
	t.Run("SignOut", func(t *testing.T) {
		c := browser(t)
		csrf := s.signIn(t, c, "roman", "roman-password")
		if resp := post(t, c, s.URL+"/signout", url.Values{"csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d", resp.StatusCode)
		}
		if resp, _ := c.Get(s.URL + "/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("after signing out GET / = %d, want a redirect to sign in", resp.StatusCode)
		}
	})
}

func TestCSRF(t *testing.T) {
	s := newSite(t)
	c := browser(t)
	csrf := s.signIn(t, c, "roman", "roman-password")
	note := s.URL + "/deals/D1/notes"
	if resp := post(t, c, note, url.Values{"text": {"без токена"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without the token: %d, want 403", resp.StatusCode)
	}
	if resp := post(t, c, note, url.Values{"text": {"чужой токен"}, "csrf": {auth.CSRFToken("another session")}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token: %d, want 403", resp.StatusCode)
	}
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	if resp := post(t, c, note, url.Values{"text": {"с чужого сайта"}, "csrf": {csrf}}, cross); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site POST with the right token: %d, want 403", resp.StatusCode)
	}
	if resp := post(t, c, note, url.Values{"text": {"Клиент думает до пятницы"}, "csrf": {csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the note: %d", resp.StatusCode)
	}
	_, page := get(t, c, s.URL+"/deals/D1")
	if strings.Count(page, "Клиент думает до пятницы") < 2 || strings.Contains(page, "с чужого сайта") || strings.Contains(page, "без токена") {
		t.Errorf("the card shows the accepted note (notes and timeline) and none of the refused ones")
	}
}

// TestScope: a manager sees their own deals only; another's deal is 404,
// the same answer as a deal that does not exist; the supervisor sees both.
func TestScope(t *testing.T) {
	s := newSite(t)
	roman := browser(t)
	csrf := s.signIn(t, roman, "roman", "roman-password")
	for path, want := range map[string]int{"/deals/D1": 200, "/deals/D2": 404, "/deals/nope": 404} {
		if code, _ := get(t, roman, s.URL+path); code != want {
			t.Errorf("roman GET %s = %d, want %d", path, code, want)
		}
	}
	if resp := post(t, roman, s.URL+"/deals/D2/notes", url.Values{"text": {"x"}, "csrf": {csrf}}, nil); resp.StatusCode != 404 {
		t.Errorf("roman writes on Olga's deal: %d, want 404", resp.StatusCode)
	}
	_, board := get(t, roman, s.URL+"/deals?pipeline=sales")
	if !strings.Contains(board, `data-deal="D1"`) || strings.Contains(board, `data-deal="D2"`) {
		t.Errorf("roman's board shows his D1 and not Olga's D2")
	}
	sergey := browser(t)
	s.signIn(t, sergey, "sergey", "sergey-password")
	for _, path := range []string{"/deals/D1", "/deals/D2"} {
		if code, _ := get(t, sergey, s.URL+path); code != 200 {
			t.Errorf("the supervisor GET %s = %d", path, code)
		}
	}
}

// TestPagesRender opens every page in both languages: no key of the
// catalogue is missing (a missing one shows as ⟦key⟧).
func TestPagesRender(t *testing.T) {
	s := newSite(t)
	c := browser(t)
	s.signIn(t, c, "sergey", "sergey-password")
	for _, lang := range []string{"ru", "en"} {
		for _, p := range []string{"/", "/funnel", "/violations", "/violations?open=true&severity=violation", "/deals", "/deals?notask=1",
			"/deals/D1", "/tasks", "/tasks?who=team", "/regulations", "/deals/nope", "/managers", "/managers/roman",
			"/funnel?pipeline=sales&from=2026-11-01&to=2026-11-07", "/funnel?from=nonsense"} {
			u := s.URL + p
			if strings.Contains(p, "?") {
				u += "&lang=" + lang
			} else {
				u += "?lang=" + lang
			}
			code, page := get(t, c, u)
			if code != 200 && !(p == "/deals/nope" && code == 404) {
				t.Errorf("GET %s = %d", u, code)
			}
			if i := strings.Index(page, "⟦"); i >= 0 {
				t.Errorf("GET %s: a string without a translation: %s", u, page[i:min(len(page), i+60)])
			}
			if !strings.Contains(page, `<html lang="`+lang+`">`) {
				t.Errorf("GET %s is not in %s", u, lang)
			}
		}
	}
}
