// Package web serves the pages of funnelwatch from templates and assets
// embedded in the binary, so it works offline.
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

	"github.com/funnelwatch/funnelwatch"
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
	Logger    *slog.Logger
	// Sync, when set, brings the state tables up to the event log before
	// a page reads them.
	Sync func(context.Context) error

	tmpl *template.Template
}

// New parses the embedded templates; a broken template fails at start,
// not on the first request.
func New(s Server) (*Server, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	s.tmpl = t
	return &s, nil
}

// Routes registers the pages on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", s.funnelPage)
}

var funcs = template.FuncMap{
	"money": func(v float64) string { return formatMoney(v) },
}

// formatMoney writes roubles with thin-space thousands, the Russian way.
func formatMoney(v float64) string {
	n := int64(v + 0.5)
	s := fmt.Sprint(n)
	var b bytes.Buffer
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(r)
	}
	return b.String() + "\u00a0₽"
}

type stageRow struct {
	Stage  funnelwatch.Stage
	Deals  int
	Amount float64
}

type pipelineView struct {
	Pipeline funnelwatch.Pipeline
	Stages   []stageRow
	Open     int
	Amount   float64 // on open stages
}

func (s *Server) funnelPage(w http.ResponseWriter, r *http.Request) {
	var counts []funnelwatch.StageCount
	var events int64
	if s.Sync != nil {
		if err := s.Sync(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		if counts, err = tx.StageCounts(r.Context()); err != nil {
			return err
		}
		events, err = tx.EventCount(r.Context())
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	byStage := map[string]funnelwatch.StageCount{}
	for _, c := range counts {
		byStage[c.Pipeline+"/"+c.Stage] = c
	}
	var views []pipelineView
	for _, p := range s.Funnel.Pipelines {
		v := pipelineView{Pipeline: p}
		for _, st := range p.Stages {
			c := byStage[st.Ref()]
			v.Stages = append(v.Stages, stageRow{Stage: st, Deals: c.Deals, Amount: c.Amount})
			if st.Type == funnelwatch.StageOpen {
				v.Open += c.Deals
				v.Amount += c.Amount
			}
		}
		views = append(views, v)
	}
	s.render(w, r, "funnel.html", map[string]any{
		"Company":   s.Funnel.Company,
		"Pipelines": views,
		"Events":    events,
	})
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Error("web", "path", r.URL.Path, "err", err)
	http.Error(w, "Внутренняя ошибка / Internal error", http.StatusInternalServerError)
}
