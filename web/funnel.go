package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
	"github.com/funnelwatch/funnelwatch/ru"
)

// funnelData is the funnel page: a pipeline's ladder of stages over a
// period, every figure report.Funnel's — the code of GET
// /api/v1/reports/funnel — so the page and the API never disagree.
type funnelData struct {
	Pipelines []pipelineTab
	Pipeline  *funnelwatch.Pipeline
	Period    period
	Message   string
	Report    *report.FunnelReport
	Rows      []funnelRow
	Chart     hchart
	// Open and Amount are the deals and money on the open stages now.
	Open   int
	Amount float64
	// Worst is the stage with the highest bottleneck score ("" for none).
	Worst string
	// AsOf says when the figures were computed, when before the request.
	AsOf asOf
}

// funnelRow is a line of the report with what the page marks on it.
type funnelRow struct {
	report.FunnelRow
	Critical bool
	SLA      time.Duration
	// AvgOver and P90Over: the time in stage is past the SLA.
	AvgOver, P90Over bool
	Worst            bool
	// Href is the board filtered to the stage (open stages only: the
	// board shows open deals).
	Href string
}

// funnelPage shows a pipeline's funnel report for a period (the
// dashboard's week unless from/to are given). The report is the
// workspace's, the same for every role — the funnel's shape — as the API
// gives it; the board a number links to is the user's scope.
func (s *Server) funnelPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if len(s.Funnel.Pipelines) == 0 {
		s.notFound(w, r, c)
		return
	}
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := funnelData{}
	var err error
	if d.Period, err = s.parsePeriod(q, s.now()); err != nil {
		d.Message = err.Error()
	}
	pid := q.Get("pipeline")
	if pid == "" {
		pid = defaultPipeline(s.Funnel)
	}
	var ok bool
	if d.Pipeline, ok = s.Funnel.Pipeline(pid); !ok {
		s.notFound(w, r, c)
		return
	}
	key := "funnel " + d.Pipeline.ID + " " + d.Period.FromDay + " " + d.Period.ToDay
	rep, asOf, err := keptFigures(r.Context(), s, key, func(ctx context.Context) (*report.FunnelReport, error) {
		var rep *report.FunnelReport
		err := s.Store.View(ctx, s.Workspace, func(tx funnelwatch.ReadTx) error {
			var err error
			rep, err = report.Funnel(ctx, tx, s.Funnel, d.Pipeline.ID, d.Period.From, d.Period.To)
			return err
		})
		return rep, err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Report, d.AsOf = rep, asOf
	for _, p := range s.Funnel.Pipelines {
		v := url.Values{"pipeline": {p.ID}, "from": {d.Period.FromDay}, "to": {d.Period.ToDay}}
		d.Pipelines = append(d.Pipelines, pipelineTab{ID: p.ID, Name: p.Name, Href: "/funnel?" + v.Encode()})
	}
	worst := -1.0
	for _, row := range d.Report.Stages {
		st, _ := d.Pipeline.Stage(row.Stage)
		fr := funnelRow{FunnelRow: row}
		if st != nil {
			fr.Critical, fr.SLA = st.Critical, st.SLA
		}
		if row.SLAHours > 0 {
			fr.AvgOver, fr.P90Over = row.AvgHours > row.SLAHours, row.P90Hours > row.SLAHours
		}
		if row.Type == funnelwatch.StageOpen {
			fr.Href = "/deals?" + url.Values{"pipeline": {d.Pipeline.ID}, "stage": {row.Stage}}.Encode()
			d.Open += row.DealsNow
			d.Amount += row.AmountNow
			if row.Bottleneck != nil && *row.Bottleneck > worst && *row.Bottleneck > 0 {
				worst, d.Worst = *row.Bottleneck, row.Stage
			}
		}
		d.Rows = append(d.Rows, fr)
	}
	// The chart is the ladder of the open stages: the won and lost ones
	// hold every closed deal ever and would dwarf it.
	var labels, values, hrefs, classes []string
	var counts []float64
	for i := range d.Rows {
		row := &d.Rows[i]
		row.Worst = row.Stage == d.Worst
		if row.Type != funnelwatch.StageOpen {
			continue
		}
		labels = append(labels, row.Name)
		values = append(values, fmt.Sprintf("%d · %s", row.DealsNow, ru.Money(row.AmountNow)))
		counts = append(counts, float64(row.DealsNow))
		hrefs = append(hrefs, row.Href)
		class := "bar-open"
		switch {
		case row.Worst:
			class = "bar-worst"
		case row.Ladder:
			class = "bar-ladder"
		}
		classes = append(classes, class)
	}
	d.Chart = newHChart(labels, values, counts, hrefs)
	d.Chart.Width = 720 // room for the money after the longest bar
	for i := range d.Chart.Rows {
		d.Chart.Rows[i].Class = classes[i]
	}
	s.render(w, r, c, http.StatusOK, "funnel.html", view{Nav: "funnel", Title: tr(c.lang, "funnel.title") + " — " + d.Report.Name, Data: d})
}

// defaultPipeline is the pipeline shown when the query names none: the
// first sales pipeline, else the first one — as the API's funnel report.
func defaultPipeline(f *funnelwatch.Funnel) string {
	for _, p := range f.Pipelines {
		if p.Kind == funnelwatch.KindSales {
			return p.ID
		}
	}
	return f.Pipelines[0].ID
}
