package api

import (
	"net/http"
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
