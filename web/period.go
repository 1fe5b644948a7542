package web

import (
	"fmt"
	"net/url"
	"time"

	"github.com/funnelwatch/funnelwatch/report"
)

// period is a report's period as the pages' forms write it: days in the
// workspace's timezone, the last one included (as on the violations
// page), and the [From, To) the report is asked for.
type period struct {
	FromDay, ToDay string // 2006-01-02
	From, To       time.Time
	Last           time.Time // the last day, for showing
}

// parsePeriod reads ?from=&to= (dates); either missing falls back to the
// dashboard's week (the last seven days, today included). A date that
// does not parse is an error naming the parameter, and the week is used.
func (s *Server) parsePeriod(q url.Values, now time.Time) (period, error) {
	from, to := week(now, s.loc())
	var bad error
	if v := q.Get("from"); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, s.loc())
		if err != nil {
			bad = fmt.Errorf("from: %q", v)
		} else {
			from = t
		}
	}
	if v := q.Get("to"); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, s.loc())
		if err != nil {
			bad = fmt.Errorf("to: %q", v)
		} else {
			to = t.AddDate(0, 0, 1) // the last day is included
		}
	}
	switch {
	case bad != nil:
	case !from.Before(to):
		bad = fmt.Errorf("from %s is after to %s", from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly))
	case to.Sub(from) > report.MaxPeriod:
		bad = fmt.Errorf("the period is longer than a year")
	}
	if bad != nil {
		from, to = week(now, s.loc())
	}
	return period{FromDay: from.Format(time.DateOnly), ToDay: to.AddDate(0, 0, -1).Format(time.DateOnly),
		From: from, To: to, Last: to.AddDate(0, 0, -1)}, bad
}
