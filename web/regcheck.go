package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// The regulations page checks a changed file before it goes live: it
// validates it (regulations.Parse, every problem with its line and key)
// and backtests it over the workspace's recent event log beside the
// running file (engine.Backtest, as `funnelwatch backtest --compare`).
// A backtest is bounded so a page cannot hang the server: the events of
// the last backtestDays days, at most backtestEvents of them, one
// backtest at a time, and the answer given up after backtestTimeout.
const (
	backtestDays    = 90
	backtestEvents  = 200_000
	backtestTimeout = 30 * time.Second
	backtestFirst   = 50 // findings listed
	regulationsMax  = 1 << 20
)

// checkView is the result of a validation or a backtest.
type checkView struct {
	Source   string
	Mode     string
	Errors   []*regulations.Error
	OK       bool
	Summary  regsSummary
	Backtest *backtestView
	Failure  string // the backtest could not run
}

type regsSummary struct {
	Users, Pipelines, Stages, Automations, Rules int
}

// backtestView is what the changed file would have raised over the log,
// beside what the running one raises over the same log.
type backtestView struct {
	Events, Skipped int
	Truncated       bool
	From, Until     time.Time
	Elapsed         time.Duration
	New, Old        backtestTotals
	Compare         bool
	ByRule          []countLine
	ByStage         []countLine
	ByManager       []countLine
	First           []backtestFinding
	More            int
}

type backtestTotals struct {
	Findings, Open, Actions int
}

type countLine struct {
	Key, Label string
	New, Old   int
}

type backtestFinding struct {
	*engine.Violation
	Stage   string
	Message funnelwatch.Text
}

// canCheck: validation and backtests are for admins and supervisors.
func canCheck(c *reqCtx) bool {
	return c.user != nil && (c.user.Role == funnelwatch.RoleAdmin || c.user.Role == funnelwatch.RoleSupervisor)
}

// checkRegulations answers the form of the regulations page: "validate"
// or "backtest" a pasted or uploaded file.
func (s *Server) checkRegulations(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !canCheck(c) {
		s.notFound(w, r, c)
		return
	}
	src, err := formFile(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := &checkView{Source: src, Mode: r.PostFormValue("mode")}
	if v.Mode != string(engine.Simulate) {
		v.Mode = string(engine.Observe)
	}
	regs, err := regulations.Parse([]byte(src))
	var list regulations.Errors
	switch {
	case errors.As(err, &list):
		v.Errors = list
	case err != nil:
		v.Errors = []*regulations.Error{{Line: 1, Msg: err.Error()}}
	default:
		v.OK = true
		v.Summary = regsSummary{Users: len(regs.Users), Pipelines: len(regs.Pipelines), Automations: len(regs.Automations), Rules: len(regs.Quality)}
		for _, p := range regs.Pipelines {
			v.Summary.Stages += len(p.Stages)
		}
	}
	if v.OK && r.PostFormValue("do") == "backtest" {
		bt, err := s.backtest(r.Context(), regs, engine.Mode(v.Mode))
		if err != nil {
			v.Failure = err.Error()
			s.logger().Warn("web backtest", "user", c.user.ID, "err", err)
		} else {
			v.Backtest = bt
			s.logger().Info("web backtest", "user", c.user.ID, "events", bt.Events, "findings", bt.New.Findings, "took", bt.Elapsed)
		}
	}
	s.renderRegulations(w, r, c, v)
}

// formFile is the uploaded file, or the pasted text when none was.
func formFile(r *http.Request) (string, error) {
	if err := r.ParseMultipartForm(regulationsMax); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return "", funnelwatch.Errorf(funnelwatch.EINVALID, "the form: %v", err)
	}
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, regulationsMax))
		if err != nil {
			return "", err
		}
		if len(b) > 0 {
			return string(b), nil
		}
	}
	return strings.ReplaceAll(r.PostFormValue("yaml"), "\r\n", "\n"), nil
}

var errBusy = errors.New("another backtest is running; try again in a minute")

// backtest runs regs, and the running regulations to compare, over the
// log's last backtestDays days up to now.
func (s *Server) backtest(ctx context.Context, regs *regulations.Regulations, mode engine.Mode) (*backtestView, error) {
	select {
	case s.backtests <- struct{}{}:
	default:
		return nil, errBusy
	}
	release := func() { <-s.backtests }
	now := s.now()
	from := now.AddDate(0, 0, -backtestDays)
	var events []funnelwatch.Event
	err := s.Store.View(ctx, s.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		events, err = tx.Events(ctx, funnelwatch.EventFilter{From: from, To: now.Add(time.Nanosecond), Limit: backtestEvents + 1})
		return err
	})
	if err != nil {
		release()
		return nil, err
	}
	bt := &backtestView{From: from, Until: now, Compare: s.Regulations != nil}
	if len(events) > backtestEvents {
		events, bt.Truncated = events[:backtestEvents], true
	}
	bt.Events = len(events)
	type result struct {
		cur, old *engine.BacktestResult
		err      error
	}
	done := make(chan result, 1)
	began := time.Now()
	// The backtest takes no context: on a timeout the page answers and
	// the run finishes in the background, holding the slot until it
	// does, so timeouts cannot pile runs up.
	go func() {
		defer release()
		var res result
		if res.cur, res.err = engine.Backtest(regs, events, now, mode); res.err == nil && s.Regulations != nil {
			res.old, res.err = engine.Backtest(s.Regulations, events, now, mode)
		}
		done <- res
	}()
	ctx, cancel := context.WithTimeout(ctx, backtestTimeout)
	defer cancel()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("the backtest took longer than %s and was given up", backtestTimeout)
	}
	if res.err != nil {
		return nil, res.err
	}
	bt.Elapsed = time.Since(began).Round(time.Millisecond)
	bt.Skipped = len(res.cur.Skipped)
	bt.New = totals(res.cur)
	if res.old != nil {
		bt.Old = totals(res.old)
	}
	bt.ByRule = s.tally(res.cur, res.old, func(v *engine.Violation) (string, string) {
		return v.Rule, v.Rule + " · " + string(v.Severity)
	})
	bt.ByStage = s.tally(res.cur, res.old, func(v *engine.Violation) (string, string) {
		p := v.Pipeline
		if x, ok := s.Funnel.Pipeline(v.Pipeline); ok {
			p = x.Name
		}
		return v.Pipeline + "/" + v.Stage, p + " · " + s.stageName(v.Pipeline, v.Stage)
	})
	bt.ByManager = s.tally(res.cur, res.old, func(v *engine.Violation) (string, string) { return v.User, s.userName(v.User) })
	found := slices.Clone(res.cur.Violations)
	slices.SortStableFunc(found, func(a, b *engine.Violation) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.DealID, b.DealID))
	})
	for i, v := range found {
		if i == backtestFirst {
			bt.More = len(found) - i
			break
		}
		bt.First = append(bt.First, backtestFinding{Violation: v, Stage: s.stageName(v.Pipeline, v.Stage),
			Message: funnelwatch.Text{RU: v.Text.Message.RU, EN: v.Text.Message.EN}})
	}
	return bt, nil
}

func totals(r *engine.BacktestResult) backtestTotals {
	t := backtestTotals{Findings: len(r.Violations), Actions: len(r.Actions)}
	for _, v := range r.Violations {
		if v.ResolvedAt == nil {
			t.Open++
		}
	}
	return t
}

// tally counts the findings of both runs by a key, most in the new run
// first.
func (s *Server) tally(cur, old *engine.BacktestResult, key func(*engine.Violation) (string, string)) []countLine {
	lines := map[string]*countLine{}
	add := func(r *engine.BacktestResult, isNew bool) {
		if r == nil {
			return
		}
		for _, v := range r.Violations {
			k, label := key(v)
			l := lines[k]
			if l == nil {
				l = &countLine{Key: k, Label: label}
				lines[k] = l
			}
			if isNew {
				l.New++
			} else {
				l.Old++
			}
		}
	}
	add(cur, true)
	add(old, false)
	out := make([]countLine, 0, len(lines))
	for _, l := range lines {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b countLine) int {
		return cmp.Or(cmp.Compare(b.New, a.New), cmp.Compare(b.Old, a.Old), cmp.Compare(a.Key, b.Key))
	})
	return out
}
