package regulations_test

import (
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/regulations"
)

func TestCron_Next(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(loc *time.Location, y int, mo time.Month, d, h, mi int) time.Time {
		return time.Date(y, mo, d, h, mi, 0, 0, loc)
	}
	for _, tc := range []struct {
		name  string
		expr  string
		after time.Time
		want  time.Time
	}{
		// 2 November 2026 is a Monday.
		{"the Monday review, asked on Tuesday", "0 9 * * MON", at(msk, 2026, 11, 3, 10, 0), at(msk, 2026, 11, 9, 9, 0)},
		{"the Monday review, asked on Monday before nine", "0 9 * * MON", at(msk, 2026, 11, 2, 8, 59), at(msk, 2026, 11, 2, 9, 0)},
		{"the Monday review, asked exactly at nine: the next week", "0 9 * * MON", at(msk, 2026, 11, 2, 9, 0), at(msk, 2026, 11, 9, 9, 0)},
		{"seconds are dropped, not rounded", "0 9 * * 1", at(msk, 2026, 11, 2, 8, 59).Add(59 * time.Second), at(msk, 2026, 11, 2, 9, 0)},
		{"every quarter hour", "*/15 * * * *", at(msk, 2026, 11, 2, 10, 1), at(msk, 2026, 11, 2, 10, 15)},
		{"every quarter hour, over the hour", "*/15 * * * *", at(msk, 2026, 11, 2, 10, 50), at(msk, 2026, 11, 2, 11, 0)},
		{"a list of hours", "30 9,13,18 * * *", at(msk, 2026, 11, 2, 13, 31), at(msk, 2026, 11, 2, 18, 30)},
		{"a list wraps to the next day", "30 9,13,18 * * *", at(msk, 2026, 11, 2, 18, 30), at(msk, 2026, 11, 3, 9, 30)},
		{"weekdays only: Friday evening to Monday", "0 10 * * MON-FRI", at(msk, 2026, 11, 6, 11, 0), at(msk, 2026, 11, 9, 10, 0)},
		{"a range with a step", "0 9-18/3 * * *", at(msk, 2026, 11, 2, 12, 1), at(msk, 2026, 11, 2, 15, 0)},
		{"Sunday written as 7", "0 20 * * 7", at(msk, 2026, 11, 2, 0, 0), at(msk, 2026, 11, 8, 20, 0)},
		{"the first of the month", "0 8 1 * *", at(msk, 2026, 11, 2, 0, 0), at(msk, 2026, 12, 1, 8, 0)},
		{"month names, over the year", "0 0 1 JAN,jul *", at(msk, 2026, 8, 1, 0, 0), at(msk, 2027, 1, 1, 0, 0)},
		{"the 29th of February waits for a leap year", "0 12 29 2 *", at(msk, 2026, 3, 1, 0, 0), at(msk, 2028, 2, 29, 12, 0)},
		{"day of month or day of week, as in cron", "0 9 13 * FRI", at(msk, 2026, 11, 7, 0, 0), at(msk, 2026, 11, 13, 9, 0)},
		{"day of month or day of week: the Friday comes first", "0 9 20 * FRI", at(msk, 2026, 11, 14, 0, 0), at(msk, 2026, 11, 20, 9, 0)},
		{"a macro", "@daily", at(msk, 2026, 11, 2, 10, 0), at(msk, 2026, 11, 3, 0, 0)},
		// 10:00 in Moscow is 07:00 UTC: the same instant, read in UTC, still
		// has 09:00 to come that day.
		{"in the location of the time given", "0 9 * * *", at(msk, 2026, 11, 2, 10, 0).UTC(), time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)},
		// Berlin skips 02:00-03:00 on 29 March 2026: a 02:30 job runs next day.
		{"a time skipped by DST", "30 2 * * *", at(berlin, 2026, 3, 28, 3, 0), at(berlin, 2026, 3, 30, 2, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := regulations.ParseCron(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Next(tc.after)
			if !got.Equal(tc.want) {
				t.Errorf("Next(%v) = %v, want %v", tc.after, got, tc.want)
			}
			if got.Location() != tc.after.Location() {
				t.Errorf("Next returned location %v, want %v", got.Location(), tc.after.Location())
			}
		})
	}
}

func TestParseCron_Errors(t *testing.T) {
	for _, tc := range []struct{ expr, msg string }{
		{"", "want 5 fields"},
		{"0 9 * *", "want 5 fields"},
		{"0 9 * * MON *", "want 5 fields"},
		{"60 * * * *", "minute: 60 is out of range 0-59"},
		{"0 24 * * *", "hour: 24 is out of range 0-23"},
		{"0 9 0 * *", "day of month: 0 is out of range 1-31"},
		{"0 9 * 13 *", "month: 13 is out of range 1-12"},
		{"0 9 * * 8", "day of week: 8 is out of range 0-7"},
		{"0 9 * * MUN", `day of week: "MUN" is not a number or a name (SUN-SAT)`},
		{"0 9 * JANUARY *", `month: "JANUARY" is not a number or a name (JAN-DEC)`},
		{"*/0 * * * *", "minute: bad step"},
		{"*/x * * * *", "minute: bad step"},
		{"0 18-9 * * *", `hour: range "18-9" runs backwards`},
		{"0 9,,18 * * *", "hour: empty item"},
		{"0 9- * * *", "hour: missing value"},
		{"0 9 30 2 *", "never fires"},
		{"@sometimes", "want 5 fields"},
	} {
		_, err := regulations.ParseCron(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseCron(%q) = %v, want an error containing %q", tc.expr, err, tc.msg)
		}
	}
}
