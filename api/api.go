// Package api serves the JSON API under /api/v1: event ingest (DESIGN
// §4.1) and reading (§4.2).
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
)

// DefaultMaxBody is the largest ingest request accepted (32 MiB: about
// 100,000 events of a typical size).
const DefaultMaxBody = 32 << 20

// Server is the /api/v1 handler set for one workspace.
type Server struct {
	Store     funnelwatch.Store
	Workspace string
	Ingestor  *engine.Ingestor
	// Tokens are the accepted bearer tokens given at start (the
	// environment's FUNNELWATCH_API_TOKEN); Keys, when set, checks the
	// tokens an admin issued. With neither, every request is refused.
	Tokens []string
	Keys   interface {
		Valid(ctx context.Context, token string) (bool, error)
	}
	MaxBody int64 // DefaultMaxBody when 0
	Logger  *slog.Logger
	// Funnel names the stages and users in reports and gives the
	// workspace's timezone (the regulations' funnel); the Ingestor's
	// when nil.
	Funnel *funnelwatch.Funnel
	// Now is the clock that places a report's default period (time.Now
	// when nil).
	Now func() time.Time
	// Engine, when set, is stepped before every read (the rules engine
	// running live).
	Engine Engine
}

// sync brings the state tables up to the log before a read: they are
// written behind it, and a reader must see every acknowledged event.
func (s *Server) sync(ctx context.Context) error {
	if s.Engine != nil {
		// The rules engine evaluates what was acknowledged, so a read
		// sees its findings and the tasks its robots set.
		if err := s.Engine.Step(ctx); err != nil {
			return err
		}
	}
	if s.Ingestor == nil {
		return nil
	}
	return s.Ingestor.Sync(ctx)
}

// Engine is the rules engine a read catches up first.
type Engine interface {
	Step(ctx context.Context) error
}

// Routes registers the API on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("POST /api/v1/events", s.auth(s.postEvents))
	mux.Handle("GET /api/v1/deals", s.auth(s.listDeals))
	mux.Handle("GET /api/v1/deals/{id}", s.auth(s.getDeal))
	mux.Handle("GET /api/v1/tasks", s.auth(s.listTasks))
	mux.Handle("GET /api/v1/violations", s.auth(s.listViolations))
	mux.Handle("GET /api/v1/reports/quality", s.auth(s.qualityReport))
	mux.Handle("GET /api/v1/reports/funnel", s.auth(s.funnelReport))
	mux.Handle("GET /api/v1/reports/managers", s.auth(s.managersReport))
	mux.Handle("GET /api/v1/actions", s.auth(s.listActions))
}

func (s *Server) funnel() *funnelwatch.Funnel {
	if s.Funnel == nil && s.Ingestor != nil {
		return s.Ingestor.Funnel
	}
	return s.Funnel
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// auth admits requests that carry one of the tokens.
func (s *Server) auth(h func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		valid, err := s.validToken(r.Context(), strings.TrimSpace(got))
		if err != nil {
			s.error(w, r, err)
			return
		}
		if !ok || !valid {
			w.Header().Set("WWW-Authenticate", `Bearer realm="funnelwatch"`)
			s.error(w, r, funnelwatch.Errorf(funnelwatch.EUNAUTHORIZED, "missing or wrong API token (Authorization: Bearer <token>)"))
			return
		}
		h(w, r)
	})
}

func (s *Server) validToken(ctx context.Context, got string) (bool, error) {
	if got == "" {
		return false, nil
	}
	ok := false
	for _, t := range s.Tokens {
		// Compare every token in constant time so timing tells nothing.
		if t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(got)) == 1 {
			ok = true
		}
	}
	if ok || s.Keys == nil {
		return ok, nil
	}
	// An issued token is found by its hash: nothing to time.
	return s.Keys.Valid(ctx, got)
}

// statusOf maps domain error codes to HTTP statuses, in one place.
func statusOf(code string) int {
	switch code {
	case funnelwatch.EINVALID:
		return http.StatusBadRequest
	case funnelwatch.ENOTFOUND:
		return http.StatusNotFound
	case funnelwatch.ECONFLICT:
		return http.StatusConflict
	case funnelwatch.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case funnelwatch.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	code := funnelwatch.ErrorCode(err)
	if code == funnelwatch.EINTERNAL {
		s.logger().Error("api", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, statusOf(code), errorBody{Error: funnelwatch.ErrorMessage(err), Code: code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// view runs fn in a read transaction of the server's workspace.
func (s *Server) view(ctx context.Context, fn func(funnelwatch.ReadTx) error) error {
	if err := s.sync(ctx); err != nil {
		return err
	}
	return s.Store.View(ctx, s.Workspace, fn)
}
