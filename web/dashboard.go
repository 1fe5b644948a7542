package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/report"
)

// dashboardData is the head of sales' first screen: the week's quality
// report (report.Quality, as GET /api/v1/reports/quality computes it),
// the deals without a next task and the tasks overdue now, each number a
// link to the findings, deals or tasks behind it.
type dashboardData struct {
	Report         *report.QualityReport
	From, To       string    // the week's days, as the violations filter takes them
	Last           time.Time // the week's last day
	Links          map[string]string
	NoTask         int
	Overdue        int
	Stages, People hchart
	Rules          []ruleLine
	Trend          vchart
	// AsOf says when the figures were computed, when that was before
	// the request (a large company's figures are kept; see figures).
	AsOf asOf
}

type ruleLine struct {
	report.RuleRow
	Name funnelwatch.Text
	Href string
}

// week returns the last seven days in the workspace's timezone, today
// included: [00:00 six days ago, 00:00 tomorrow).
func week(now time.Time, loc *time.Location) (from, to time.Time) {
	l := now.In(loc)
	to = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
	return to.AddDate(0, 0, -7), to
}

func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	from, to := week(s.now(), s.loc())
	d := dashboardData{From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), Last: to.AddDate(0, 0, -1)}
	key := "dashboard " + scopeKey(c.scope) + " " + d.From
	fig, asOf, err := keptFigures(r.Context(), s, key, func(ctx context.Context) (*dashboardFigures, error) {
		return s.dashboardFigures(ctx, c.scope, from, to)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Report, d.NoTask, d.Overdue, d.AsOf = fig.Report, fig.NoTask, fig.Overdue, asOf
	period := func(extra ...string) string {
		q := url.Values{"from": {d.From}, "to": {d.To}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return "/violations?" + q.Encode()
	}
	who := "team"
	if c.scope.Only() != "" {
		who = "mine"
	}
	d.Links = map[string]string{
		"violations": period("severity", "violation"),
		"remarks":    period("severity", "remark"),
		"open":       "/violations?open=true",
		"notask":     "/deals?notask=1",
		"overdue":    "/tasks?who=" + who + "#overdue",
	}
	var labels, values, hrefs []string
	var counts []float64
	for _, row := range d.Report.ByStage {
		if row.Violations == 0 {
			continue
		}
		labels, values, counts = append(labels, row.Name), append(values, itoa(row.Violations)), append(counts, float64(row.Violations))
		href := ""
		if row.Pipeline != "" {
			href = period("severity", "violation", "stage", row.Pipeline+"/"+row.Stage)
		}
		hrefs = append(hrefs, href)
	}
	d.Stages = newHChart(labels, values, counts, hrefs)
	labels, values, hrefs, counts = nil, nil, nil, nil
	for _, row := range d.Report.ByManager {
		if row.Violations == 0 {
			continue
		}
		labels = append(labels, row.Name)
		values = append(values, itoa(row.Violations)+" · "+pct(row.Share))
		counts = append(counts, row.Share)
		href := ""
		if row.User != "" {
			href = period("severity", "violation", "user", row.User)
		}
		hrefs = append(hrefs, href)
	}
	d.People = newHChart(labels, values, counts, hrefs)
	for _, row := range d.Report.ByRule {
		d.Rules = append(d.Rules, ruleLine{RuleRow: row, Name: s.ruleName(row.Rule), Href: period("rule", row.Rule)})
	}
	var days, titles []string
	var vs, rs []int
	hrefs = nil
	for _, day := range d.Report.ByDay {
		t, _ := time.ParseInLocation(time.DateOnly, day.Date, s.loc())
		days = append(days, t.Format("02.01"))
		titles = append(titles, day.Date+": "+itoa(day.Violations)+" / "+itoa(day.Remarks))
		vs, rs = append(vs, day.Violations), append(rs, day.Remarks)
		hrefs = append(hrefs, "/violations?"+url.Values{"from": {day.Date}, "to": {day.Date}}.Encode())
	}
	d.Trend = newVChart(days, titles, hrefs, vs, rs)
	s.render(w, r, c, http.StatusOK, "dashboard.html", view{Nav: "dashboard", Title: tr(c.lang, "dash.title"), Data: d})
}

func pct(x float64) string { return itoa(int(x*100+0.5)) + "%" }

// dashboardFigures are what the dashboard reads from the store: the
// week's quality report and the workload now.
type dashboardFigures struct {
	Report          *report.QualityReport
	NoTask, Overdue int
}

// dashboardFigures computes the dashboard's figures of [from, to) in
// the scope, at the present.
func (s *Server) dashboardFigures(ctx context.Context, scope auth.Scope, from, to time.Time) (*dashboardFigures, error) {
	now := s.now()
	fig := &dashboardFigures{}
	err := s.Store.View(ctx, s.Workspace, func(tx funnelwatch.ReadTx) error {
		stx := scoped(tx, scope)
		var err error
		if fig.Report, err = report.Quality(ctx, stx, s.Funnel, from, to, now); err != nil {
			return err
		}
		fig.NoTask, fig.Overdue, err = workload(ctx, stx, now)
		return err
	})
	return fig, err
}

// workload counts, in the scope, the open deals without an open task
// and the open tasks past their due time: two counts in SQL.
func workload(ctx context.Context, tx funnelwatch.ReadTx, now time.Time) (noTask, overdue int, err error) {
	if noTask, err = tx.DealsWithoutOpenTask(ctx, nil); err != nil {
		return 0, 0, err
	}
	overdue, err = tx.OverdueTasks(ctx, nil, now)
	return noTask, overdue, err
}
