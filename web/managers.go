package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
	"github.com/funnelwatch/funnelwatch/ru"
)

// A scorecard's figures are report.Managers' — the code of GET
// /api/v1/reports/managers — computed over the whole workspace, then cut
// to the user's scope: an admin sees every line, a supervisor their
// team's, a manager their own. The team median beside each figure is of
// every manager (role manager) of the regulations, whoever looks, so a
// manager compares themselves with the department without seeing anyone
// else's figures.

// better says which way a figure is good.
type better int

const (
	neutral better = 0
	higher  better = 1
	lower   better = -1
)

// metric is a line of the scorecard.
type metric struct {
	Key    string // i18n key "mgr.<Key>"
	Better better
	Kind   string // how to write it: int, dec, pct, money, seconds, minutes, days
	Of     func(*report.ManagerFigures) float64
	// Has, when set, says whether the figure means anything: a ratio
	// over nothing (no deal won, no call answered) is 0 in the report,
	// which would pass for the best or the worst; it shows as "—" and is
	// left out of the median.
	Has func(*report.ManagerFigures) bool
}

func hasDeals(m *report.ManagerFigures) bool { return m.DealsHandled > 0 }
func hasWon(m *report.ManagerFigures) bool   { return m.Won > 0 }

var metrics = []metric{
	{"deals_handled", neutral, "int", func(m *report.ManagerFigures) float64 { return float64(m.DealsHandled) }, nil},
	{"violations_per100", lower, "dec", func(m *report.ManagerFigures) float64 { return m.ViolationsPer100Deals }, hasDeals},
	{"violations_share", lower, "pct", func(m *report.ManagerFigures) float64 { return m.ViolationsShare }, nil},
	{"remarks_per100", lower, "dec", func(m *report.ManagerFigures) float64 { return m.RemarksPer100Deals }, hasDeals},
	{"overdue_tasks", lower, "int", func(m *report.ManagerFigures) float64 { return float64(m.OverdueTasks) }, nil},
	{"calls_in", neutral, "int", func(m *report.ManagerFigures) float64 { return float64(m.CallsIn) }, nil},
	{"calls_out", higher, "int", func(m *report.ManagerFigures) float64 { return float64(m.CallsOut) }, nil},
	{"calls_answered", higher, "int", func(m *report.ManagerFigures) float64 { return float64(m.CallsAnswered) }, nil},
	{"successful_contacts", higher, "int", func(m *report.ManagerFigures) float64 { return float64(m.SuccessfulContacts) }, nil},
	{"talk_time", higher, "seconds", func(m *report.ManagerFigures) float64 { return float64(m.TalkTimeS) }, nil},
	{"avg_call", higher, "seconds", func(m *report.ManagerFigures) float64 { return m.AvgCallS },
		func(m *report.ManagerFigures) bool { return m.CallsAnswered > 0 }},
	{"callback", lower, "minutes", func(m *report.ManagerFigures) float64 { return m.CallbackMedianMinutes },
		func(m *report.ManagerFigures) bool { return m.MissedCalls > m.MissedNotReturned }},
	{"missed_not_returned", lower, "int", func(m *report.ManagerFigures) float64 { return float64(m.MissedNotReturned) }, nil},
	{"cards_changed", neutral, "int", func(m *report.ManagerFigures) float64 { return float64(m.CardsChanged) }, nil},
	{"calls_per_card", neutral, "dec", func(m *report.ManagerFigures) float64 { return m.CallsPerCardChanged },
		func(m *report.ManagerFigures) bool { return m.CardsChanged > 0 }},
	{"tasks_per_deal", neutral, "dec", func(m *report.ManagerFigures) float64 { return m.TasksPerDeal }, hasDeals},
	{"win_rate", higher, "pct", func(m *report.ManagerFigures) float64 { return m.WinRate },
		func(m *report.ManagerFigures) bool { return m.Won+m.Lost > 0 }},
	{"cycle", lower, "days", func(m *report.ManagerFigures) float64 { return m.CycleMedianDays }, hasWon},
	{"avg_check", higher, "money", func(m *report.ManagerFigures) float64 { return m.AvgCheck }, hasWon},
	{"revenue", higher, "money", func(m *report.ManagerFigures) float64 { return m.Revenue }, nil},
}

// median is the middle value of xs, or the mean of the two middle ones;
// 0 for none. xs is not changed. The one place the team medians are
// computed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// teamMedians is the median of each metric over the managers (role
// manager in the regulations) of the report.
// A figure without data (see metric.Has) is left out; 0 when none has it.
func teamMedians(f *funnelwatch.Funnel, rep *report.ManagersReport) []float64 {
	var team []*report.ManagerFigures
	for _, u := range f.Users {
		if m := rep.Managers[u.ID]; m != nil && u.Role == funnelwatch.RoleManager {
			team = append(team, m)
		}
	}
	out := make([]float64, len(metrics))
	for i, x := range metrics {
		var vs []float64
		for _, m := range team {
			if x.has(m) {
				vs = append(vs, x.Of(m))
			}
		}
		out[i] = median(vs)
	}
	return out
}

// has says whether m's figure means anything.
func (x metric) has(m *report.ManagerFigures) bool { return x.Has == nil || x.Has(m) }

// worse says whether v is on the bad side of the median.
func (x metric) worse(v, med float64) bool {
	const eps = 1e-9
	switch x.Better {
	case higher:
		return v < med-eps
	case lower:
		return v > med+eps
	}
	return false
}

// badness is how far v is on the bad side of the median (≤ 0: not).
func (x metric) badness(v, med float64) float64 {
	return float64(-x.Better) * (v - med)
}

func (x metric) format(lang string, v float64) string {
	dec := func(v float64) string { return strings.Replace(fmt.Sprintf("%.1f", v), ".", decimalSep(lang), 1) }
	switch x.Kind {
	case "int":
		return fmt.Sprintf("%.0f", v)
	case "pct":
		return pct(v)
	case "money":
		return ru.Money(v)
	case "seconds":
		// Calls are short: below an hour the seconds matter (an average
		// call of 1 min 5 s against 1 min 50 s).
		n := int(v + 0.5)
		switch {
		case n < 60:
			return fmt.Sprintf("%d %s", n, tr(lang, "unit.s"))
		case n < 3600:
			return fmt.Sprintf("%d %s %d %s", n/60, tr(lang, "unit.min"), n%60, tr(lang, "unit.s"))
		}
		return formatDuration(lang, time.Duration(n)*time.Second)
	case "minutes":
		if v > 0 && v < 1 {
			return fmt.Sprintf("%.0f %s", v*60, tr(lang, "unit.s"))
		}
		return formatDuration(lang, time.Duration(v*float64(time.Minute)))
	case "days":
		return dec(v) + " " + tr(lang, "unit.d")
	}
	return dec(v)
}

// scoreCol is a manager's column.
type scoreCol struct {
	User, Name, Href string
}

// scoreLine is a metric across the columns, beside the team median.
type scoreLine struct {
	Key    string
	Better better
	Median string
	Cells  []scoreCell
}

type scoreCell struct {
	Value, Previous string
	// Worse: on the bad side of the team median; Worst: the furthest
	// there of the columns shown.
	Worse, Worst bool
}

type managersData struct {
	Period  period
	Message string
	Cols    []scoreCol
	Lines   []scoreLine
	Team    int // the managers the median is over
	One     bool
	// AsOf says when the figures were computed, when before the request.
	AsOf asOf
}

// scorecard builds the lines of the columns' managers.
// Only managers' figures are marked against the median: a supervisor's
// or an admin's line (they may make calls) is shown as it is.
func scorecard(lang string, f *funnelwatch.Funnel, rep *report.ManagersReport, users []string) ([]scoreLine, int) {
	meds := teamMedians(f, rep)
	team := 0
	manager := map[string]bool{}
	for _, u := range f.Users {
		if rep.Managers[u.ID] != nil && u.Role == funnelwatch.RoleManager {
			team++
			manager[u.ID] = true
		}
	}
	lines := make([]scoreLine, len(metrics))
	for i, x := range metrics {
		l := scoreLine{Key: x.Key, Better: x.Better, Median: x.format(lang, meds[i])}
		worst, worstAt := 0.0, -1
		for j, u := range users {
			m := rep.Managers[u]
			v := x.Of(m)
			cell := scoreCell{Value: "—", Previous: "—"}
			if x.has(m) {
				cell.Value, cell.Worse = x.format(lang, v), manager[u] && x.worse(v, meds[i])
			}
			if m.Previous != nil && x.has(m.Previous) {
				cell.Previous = x.format(lang, x.Of(m.Previous))
			}
			if b := x.badness(v, meds[i]); cell.Worse && b > worst {
				worst, worstAt = b, j
			}
			l.Cells = append(l.Cells, cell)
		}
		if worstAt >= 0 && len(users) > 1 {
			l.Cells[worstAt].Worst = true
		}
		lines[i] = l
	}
	return lines, team
}

// managersReport runs report.Managers over the whole workspace (the
// same for every scope), kept when slow to compute as the dashboard's
// figures are.
func (s *Server) managersReport(r *http.Request, p period) (*report.ManagersReport, asOf, error) {
	return keptFigures(r.Context(), s, "managers "+p.FromDay+" "+p.ToDay, func(ctx context.Context) (*report.ManagersReport, error) {
		var rep *report.ManagersReport
		err := s.Store.View(ctx, s.Workspace, func(tx funnelwatch.ReadTx) error {
			var err error
			rep, err = report.Managers(ctx, tx, s.Funnel, p.From, p.To, s.now(), report.ManagersOptions{})
			return err
		})
		return rep, err
	})
}

// managersPage is the scorecards of the scope's managers for a period.
func (s *Server) managersPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.scorecards(w, r, c, "")
}

// managerPage is one manager's scorecard; 404 outside the scope, as for
// a user who does not exist.
func (s *Server) managerPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	id := r.PathValue("id")
	if !c.scope.Sees(id) {
		s.notFound(w, r, c)
		return
	}
	s.scorecards(w, r, c, id)
}

func (s *Server) scorecards(w http.ResponseWriter, r *http.Request, c *reqCtx, one string) {
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	d := managersData{One: one != ""}
	var err error
	if d.Period, err = s.parsePeriod(r.URL.Query(), s.now()); err != nil {
		d.Message = err.Error()
	}
	rep, asOf, err := s.managersReport(r, d.Period)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var users []string
	if one != "" {
		if rep.Managers[one] == nil {
			s.notFound(w, r, c)
			return
		}
		users = []string{one}
	} else {
		for u := range rep.Managers {
			if c.scope.Sees(u) {
				users = append(users, u)
			}
		}
		slices.SortFunc(users, func(a, b string) int {
			return cmp.Or(cmp.Compare(rep.Managers[a].Name, rep.Managers[b].Name), cmp.Compare(a, b))
		})
	}
	q := url.Values{"from": {d.Period.FromDay}, "to": {d.Period.ToDay}}.Encode()
	for _, u := range users {
		d.Cols = append(d.Cols, scoreCol{User: u, Name: cmp.Or(rep.Managers[u].Name, u), Href: "/managers/" + url.PathEscape(u) + "?" + q})
	}
	d.Lines, d.Team = scorecard(c.lang, s.Funnel, rep, users)
	d.AsOf = asOf
	title := tr(c.lang, "mgr.title")
	if one != "" {
		title = d.Cols[0].Name
	}
	s.render(w, r, c, http.StatusOK, "managers.html", view{Nav: "managers", Title: title, Data: d})
}
