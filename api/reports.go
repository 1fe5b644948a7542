package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/report"
)

// defaultPeriod is a report's period when the query names none: the week
// before now, the head of sales' weekly review.
const defaultPeriod = 7 * 24 * time.Hour

func (s *Server) qualityReport(w http.ResponseWriter, r *http.Request) {
	// One reading of the clock places the default period and the stock
	// of a period not over yet.
	now := s.now()
	from, to, err := reportPeriod(r, now)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var rep *report.QualityReport
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		rep, err = report.Quality(r.Context(), tx, s.funnel(), from, to, now)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) funnelReport(w http.ResponseWriter, r *http.Request) {
	from, to, err := reportPeriod(r, s.now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	f := s.funnel()
	pipeline := r.URL.Query().Get("pipeline")
	if pipeline == "" {
		pipeline = defaultPipeline(f)
	}
	var rep *report.FunnelReport
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		rep, err = report.Funnel(r.Context(), tx, f, pipeline, from, to)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// defaultPipeline is the funnel report's pipeline when the query names
// none: the first sales pipeline, else the first one.
func defaultPipeline(f *funnelwatch.Funnel) string {
	if f == nil || len(f.Pipelines) == 0 {
		return ""
	}
	for _, p := range f.Pipelines {
		if p.Kind == funnelwatch.KindSales {
			return p.ID
		}
	}
	return f.Pipelines[0].ID
}

func (s *Server) managersReport(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	from, to, err := reportPeriod(r, now)
	if err != nil {
		s.error(w, r, err)
		return
	}
	var opts report.ManagersOptions
	if v := r.URL.Query().Get("successful_min_s"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 24*3600 {
			s.error(w, r, funnelwatch.Errorf(funnelwatch.EINVALID, "successful_min_s must be a number of seconds, 1..86400"))
			return
		}
		opts.SuccessfulCall = time.Duration(n) * time.Second
	}
	var rep *report.ManagersReport
	err = s.view(r.Context(), func(tx funnelwatch.ReadTx) error {
		rep, err = report.Managers(r.Context(), tx, s.funnel(), from, to, now, opts)
		return err
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	// The body is the object keyed by user id (DESIGN §4.2); the period
	// and the threshold it was computed with are in headers.
	w.Header().Set("X-Report-From", rep.From.Format(time.RFC3339))
	w.Header().Set("X-Report-To", rep.To.Format(time.RFC3339))
	w.Header().Set("X-Report-Successful-Min-S", strconv.Itoa(int(rep.SuccessfulCall/time.Second)))
	writeJSON(w, http.StatusOK, rep.Managers)
}

// reportPeriod reads a report's from and to: to defaults to now, from to a
// week before to.
func reportPeriod(r *http.Request, now time.Time) (from, to time.Time, err error) {
	q := r.URL.Query()
	if from, err = timeParam(q, "from"); err != nil {
		return
	}
	if to, err = timeParam(q, "to"); err != nil {
		return
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.Add(-defaultPeriod)
	}
	return from, to, nil
}
