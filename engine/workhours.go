package engine

import (
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// workingDue returns the moment when d of working time has passed after
// start: time counts only inside the daily working hours (all day when
// zero) of the days the schedule has the assignee on shift, in the
// company's timezone. Whole days count as working days: the same clock
// time on the next day on shift (a day's due set on the last day of a 3/3
// shift falls on the first day of the next shift); the hours left over
// count in working hours. A task set at 20:30 with a 2h due and working
// hours 09:00-21:00 is due at 10:30 on the assignee's next working day.
func workingDue(start time.Time, d time.Duration, h regulations.Hours, s funnelwatch.Schedule, loc *time.Location) time.Time {
	from, to := h.From, h.To
	if h.IsZero() {
		from, to = 0, 24*60
	}
	t := start.In(loc)
	for range d / (24 * time.Hour) {
		t = t.AddDate(0, 0, 1)
		for i := 0; i < 400 && !s.OnShift(t); i++ {
			t = t.AddDate(0, 0, 1)
		}
	}
	left := d % (24 * time.Hour)
	// A schedule of a year's cycle at most: two years of days always find
	// enough working time for any due a file can hold.
	for range 800 {
		y, m, dd := t.Date()
		open := time.Date(y, m, dd, 0, 0, 0, 0, loc).Add(time.Duration(from) * time.Minute)
		shut := time.Date(y, m, dd, 0, 0, 0, 0, loc).Add(time.Duration(to) * time.Minute)
		if s.OnShift(t) && t.Before(shut) {
			if t.Before(open) {
				t = open
			}
			if avail := shut.Sub(t); left <= avail {
				return t.Add(left)
			} else {
				left -= avail
			}
		}
		t = time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
	}
	return start.Add(d)
}
