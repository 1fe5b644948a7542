// Package web serves the pages of funnelwatch from templates and assets
// embedded in the binary, so it works offline: sign-in, the dashboard,
// violations, deals (board and card), my tasks, the funnel report, the
// managers' scorecards and the regulations (with validation and a
// backtest of a changed file), in Russian or English. Every figure comes from the same
// code the API uses (report, the store's reads), scoped to what the
// signed-in user may see.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/ru"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server renders the pages of one workspace.
type Server struct {
	Store     funnelwatch.Store
	Workspace string
	Funnel    *funnelwatch.Funnel
	// Regulations, when set, is shown on the regulations page
	// (automations and rules; the funnel alone otherwise).
	Regulations *regulations.Regulations
	// Source is the running regulations file's text: the regulations
	// page offers it to edit, validate and backtest.
	Source []byte
	Logger *slog.Logger
	// Sync, when set, brings the state tables up to the event log before
	// a page reads them.
	Sync func(context.Context) error
	// Engine, when set, is stepped before a page reads (the rules engine
	// running live), as the API does.
	Engine interface{ Step(context.Context) error }
	// Ingestor takes the events the pages make (a task completed, a note,
	// a move); without it the deal card has no forms.
	Ingestor *engine.Ingestor
	// Sessions signs users in.
	Sessions *auth.Sessions
	// Tokens issues and revokes API tokens on the admin page; without
	// it the page lists none and offers none.
	Tokens *auth.APITokens
	// Demo lists logins and passwords to show on the sign-in page; only
	// the demo sets it.
	Demo []DemoLogin
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SecureCookies marks the cookies Secure over plain HTTP too: the
	// server sits behind a proxy that terminates TLS (serve sets it when
	// FUNNELWATCH_BASE_URL is an https:// address).
	SecureCookies bool
	// KeepFiguresOver is how long the dashboard's or the funnel page's
	// figures may take to compute before they are kept and refreshed in
	// the background instead of computed for each request (100 ms when
	// zero; see figures).
	KeepFiguresOver time.Duration

	tmpl      map[string]*template.Template // lang + "/" + page
	cop       *http.CrossOriginProtection
	backtests chan struct{} // one backtest at a time
	figures   *figures      // the slow pages' figures, kept
}

// Close stops the refreshes of kept figures under way and waits for
// them; call it before closing the store.
func (s *Server) Close() { s.figures.close() }

// DemoLogin is a login of the demo company shown on its sign-in page.
type DemoLogin struct {
	User     funnelwatch.User
	Password string
}

// pages are the page templates; each is parsed with layout.html.
var pages = []string{"signin.html", "error.html", "dashboard.html", "funnel.html", "violations.html",
	"deals.html", "deal.html", "tasks.html", "regulations.html", "managers.html", "admin.html"}

// New parses the embedded templates; a broken template fails at start,
// not on the first request.
func New(s Server) (*Server, error) {
	if s.Funnel == nil {
		return nil, fmt.Errorf("web: no funnel")
	}
	if s.Sessions == nil {
		return nil, fmt.Errorf("web: no sessions")
	}
	s.tmpl = map[string]*template.Template{}
	for _, lang := range languages {
		for _, p := range pages {
			t, err := template.New("layout.html").Funcs(s.funcs(lang)).ParseFS(templateFS, "templates/layout.html", "templates/"+p)
			if err != nil {
				return nil, fmt.Errorf("web templates: %w", err)
			}
			s.tmpl[lang+"/"+p] = t
		}
	}
	s.cop = http.NewCrossOriginProtection()
	s.backtests = make(chan struct{}, 1)
	s.figures = newFigures()
	s.figures.Logger = s.Logger
	if s.KeepFiguresOver > 0 {
		s.figures.Budget = s.KeepFiguresOver
	}
	return &s, nil
}

// Routes registers the pages on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static))))
	mux.Handle("GET /signin", s.guard(http.HandlerFunc(s.signinPage)))
	mux.Handle("POST /signin", s.guard(http.HandlerFunc(s.signin)))
	mux.Handle("POST /signout", s.action(s.signout))
	mux.Handle("GET /{$}", s.page(s.dashboardPage))
	mux.Handle("GET /funnel", s.page(s.funnelPage))
	mux.Handle("GET /managers", s.page(s.managersPage))
	mux.Handle("GET /managers/{id}", s.page(s.managerPage))
	mux.Handle("GET /violations", s.page(s.violationsPage))
	mux.Handle("GET /deals", s.page(s.dealsPage))
	mux.Handle("GET /deals/{id}", s.page(s.dealPage))
	mux.Handle("POST /deals/{id}/tasks/{task}/complete", s.action(s.completeTask))
	mux.Handle("POST /deals/{id}/tasks", s.action(s.createTask))
	mux.Handle("POST /deals/{id}/notes", s.action(s.addNote))
	mux.Handle("POST /deals/{id}/move", s.action(s.moveDeal))
	mux.Handle("GET /tasks", s.page(s.tasksPage))
	mux.Handle("GET /regulations", s.page(s.regulationsPage))
	mux.Handle("POST /regulations/check", s.actionUpTo(regulationsMax+64<<10, s.checkRegulations))
	mux.Handle("GET /admin", s.page(s.adminOnly(s.adminPage)))
	mux.Handle("POST /admin/users/{id}/password", s.action(s.adminOnly(s.setPassword)))
	mux.Handle("POST /admin/users/{id}/signout", s.action(s.adminOnly(s.signOutUser)))
	mux.Handle("POST /admin/tokens", s.action(s.adminOnly(s.issueToken)))
	mux.Handle("POST /admin/tokens/{id}/revoke", s.action(s.adminOnly(s.revokeToken)))
}

// cacheFor lets browsers keep the assets for an hour.
func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) loc() *time.Location {
	if s.Funnel.Location != nil {
		return s.Funnel.Location
	}
	return time.UTC
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// catchUp steps the engine and syncs the state tables before a read, as
// the API does, so a page sees every acknowledged event and its findings.
func (s *Server) catchUp(ctx context.Context) error {
	if s.Engine != nil {
		if err := s.Engine.Step(ctx); err != nil {
			return err
		}
	}
	if s.Sync != nil {
		return s.Sync(ctx)
	}
	return nil
}

// view is what every page's template gets.
type view struct {
	Lang    string
	Switch  string // this page in the other language
	Path    string
	Company string
	User    *funnelwatch.User
	CSRF    string
	Nav     string // the active navigation entry
	Title   string
	Error   string
	Demo    []DemoLogin
	Data    any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, c *reqCtx, status int, name string, v view) {
	v.Lang, v.Switch, v.Path, v.Company = c.lang, switchURL(r, c.lang), r.URL.Path, s.Funnel.Company
	if c.user != nil {
		v.User, v.CSRF = c.user, auth.CSRFToken(c.token)
	}
	var buf bytes.Buffer
	if err := s.tmpl[c.lang+"/"+name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// notFound answers 404, the same for a page that does not exist and for
// one outside the user's scope: the answer tells nothing of what exists.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.render(w, r, c, http.StatusNotFound, "error.html", view{Title: tr(c.lang, "err.notfound"), Data: tr(c.lang, "err.notfound_text")})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND {
		http.Error(w, "Не найдено / Not found", http.StatusNotFound)
		return
	}
	s.logger().Error("web", "path", r.URL.Path, "err", err)
	http.Error(w, "Внутренняя ошибка / Internal error", http.StatusInternalServerError)
}

// funcs are the template functions of a language.
func (s *Server) funcs(lang string) template.FuncMap {
	loc := s.loc
	return template.FuncMap{
		"t":     func(key string) string { return tr(lang, key) },
		"money": ru.Money,
		"text": func(t funnelwatch.Text) string {
			if lang == langEN && t.EN != "" {
				return t.EN
			}
			return t.RU
		},
		"date": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(loc()).Format("02.01.2006")
		},
		"datetime": func(t any) string {
			switch t := t.(type) {
			case time.Time:
				if t.IsZero() {
					return ""
				}
				return t.In(loc()).Format("02.01.2006 15:04")
			case *time.Time:
				if t == nil {
					return ""
				}
				return t.In(loc()).Format("02.01.2006 15:04")
			}
			return ""
		},
		"user":  s.userName,
		"stage": s.stageName,
		"pct":   func(x float64) string { return fmt.Sprintf("%.0f%%", x*100) },
		"dec":   func(x float64) string { return strings.Replace(fmt.Sprintf("%.1f", x), ".", decimalSep(lang), 1) },
		"dur":   func(d time.Duration) string { return formatDuration(lang, d) },
		"hours": func(h float64) string { return formatDuration(lang, time.Duration(h*float64(time.Hour))) },
		"delta": func(cur, prev int) string {
			switch {
			case cur > prev:
				return fmt.Sprintf("+%d", cur-prev)
			case cur < prev:
				return fmt.Sprintf("−%d", prev-cur)
			}
			return "±0"
		},
		"clock": func(t time.Time) string { return t.In(loc()).Format("15:04:05") },
		"secs": func(d time.Duration) string {
			return strings.Replace(fmt.Sprintf("%.1f", d.Seconds()), ".", decimalSep(lang), 1)
		},
		"role": func(r funnelwatch.Role) string { return tr(lang, "role."+string(r)) },
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[fmt.Sprint(kv[i])] = kv[i+1]
			}
			return m
		},
	}
}

func decimalSep(lang string) string {
	if lang == langEN {
		return "."
	}
	return ","
}

// formatDuration writes a stage's SLA or a grace: days, hours, minutes.
func formatDuration(lang string, d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	units := [][3]string{{"д", "d"}, {"ч", "h"}, {"мин", "min"}}
	i := 0
	if lang == langEN {
		i = 1
	}
	var parts []string
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", days, units[0][i]))
	}
	if h := rest / time.Hour; h > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", h, units[1][i]))
	}
	if m := (rest % time.Hour) / time.Minute; m > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", m, units[2][i]))
	}
	return strings.Join(parts, " ")
}

func (s *Server) userName(id string) string {
	if u, ok := s.Funnel.User(id); ok && u.Name != "" {
		return u.Name
	}
	if id == "" {
		return "—"
	}
	return id
}

func (s *Server) stageName(pipeline, stage string) string {
	if p, ok := s.Funnel.Pipeline(pipeline); ok {
		if st, ok := p.Stage(stage); ok && st.Name != "" {
			return st.Name
		}
	}
	return stage
}
