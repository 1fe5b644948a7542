package regulations

import (
	"strconv"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// Cron is a parsed five-field cron expression: minute, hour, day of month,
// month, day of week. It is evaluated in the location of the time given to
// Next — the company's timezone for a schedule automation.
//
// Each field takes `*`, a number or a name, a range `a-b`, a step `*/n`,
// `a-b/n` or `a/n` (from a to the end), and comma lists of these. Months
// may be written JAN-DEC and weekdays SUN-SAT (0 and 7 are Sunday), in any
// case. As in Vixie cron, when both the day of month and the day of week
// are restricted (neither starts with `*`) a day matching either fires.
// The macros @hourly, @daily (@midnight), @weekly, @monthly and @yearly
// (@annually) stand for their usual expressions.
type Cron struct {
	expr                          string
	minute, hour, dom, month, dow uint64 // bit n set: value n matches
	domStar, dowStar              bool
}

// cronField describes one of the five fields.
type cronField struct {
	name   string
	ru     string // the name in Russian, for messages
	lo, hi int
	names  []string // names[i] stands for base+i
	base   int
}

var cronFields = [5]cronField{
	{name: "minute", ru: "минуты", lo: 0, hi: 59},
	{name: "hour", ru: "часы", lo: 0, hi: 23},
	{name: "day of month", ru: "день месяца", lo: 1, hi: 31},
	{name: "month", ru: "месяц", lo: 1, hi: 12, base: 1,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", ru: "день недели", lo: 0, hi: 7, base: 0,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

var cronMacros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// ParseCron parses a five-field cron expression such as "0 9 * * MON".
// The error says which field is wrong and why. An expression that can
// never fire (day 30 of February) is an error too.
func ParseCron(expr string) (*Cron, error) {
	spec := strings.TrimSpace(expr)
	if m, ok := cronMacros[strings.ToLower(spec)]; ok {
		spec = m
	}
	fs := strings.Fields(spec)
	if len(fs) != 5 {
		return nil, problemf("bad cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d",
			"неверное расписание cron %q: нужно 5 полей (минуты, часы, день месяца, месяц, день недели), а здесь %d", expr, len(fs))
	}
	c := &Cron{expr: strings.TrimSpace(expr)}
	sets := [5]*uint64{&c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range fs {
		bits, err := cronFields[i].parse(f)
		if err != nil {
			return nil, problemf("bad cron %q: %s", "неверное расписание cron %q: %s", expr, err)
		}
		*sets[i] = bits
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday too
		c.dow = c.dow&^(1<<7) | 1
	}
	c.domStar = strings.HasPrefix(fs[2], "*")
	c.dowStar = strings.HasPrefix(fs[4], "*")
	if !c.domStar && c.dowStar && !c.domFits() {
		return nil, problemf("bad cron %q: the day of month never occurs in the months given, so it never fires",
			"неверное расписание cron %q: такого дня месяца нет ни в одном из указанных месяцев, оно никогда не сработает", expr)
	}
	return c, nil
}

// String returns the expression as written.
func (c *Cron) String() string { return c.expr }

// daysIn is the longest each month gets (February 29 in leap years).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// domFits reports whether some listed day of month exists in some listed month.
func (c *Cron) domFits() bool {
	for m := 1; m <= 12; m++ {
		if c.month&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= daysIn[m]; d++ {
			if c.dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

// label is the field's name in both languages.
func (f cronField) label() funnelwatch.Text { return funnelwatch.Text{EN: f.name, RU: f.ru} }

func (f cronField) parse(s string) (uint64, error) {
	var bits uint64
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			return 0, problemf("%s: empty item in %q", "%s: пустой элемент в %q", f.label(), s)
		}
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, problemf("%s: bad step %q in %q (want */n with n ≥ 1)", "%s: неверный шаг %q в %q (нужно */n, где n ≥ 1)", f.label(), stepText, part)
			}
			step = n
		}
		var lo, hi int
		switch {
		case rng == "*":
			lo, hi = f.lo, f.hi
			if f.name == "day of week" {
				hi = 6 // 7 repeats Sunday; */2 should not hit Sunday twice
			}
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return 0, err
			}
			if hi, err = f.value(b); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, problemf("%s: range %q runs backwards", "%s: в диапазоне %q начало больше конца", f.label(), rng)
			}
		default:
			v, err := f.value(rng)
			if err != nil {
				return 0, err
			}
			lo, hi = v, v
			if hasStep { // a/n: from a to the end
				hi = f.hi
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

// value reads a number or a name of the field and checks its range.
func (f cronField) value(s string) (int, error) {
	if s == "" {
		return 0, problemf("%s: missing value", "%s: не указано значение", f.label())
	}
	for i, n := range f.names {
		if strings.EqualFold(s, n) {
			return f.base + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		if f.names != nil {
			return 0, problemf("%s: %q is not a number or a name (%s-%s)", "%s: %q — не число и не название (%s-%s)", f.label(), s, f.names[0], f.names[len(f.names)-1])
		}
		return 0, problemf("%s: %q is not a number", "%s: %q — не число", f.label(), s)
	}
	if v < f.lo || v > f.hi {
		return 0, problemf("%s: %d is out of range %d-%d", "%s: %d вне диапазона %d-%d", f.label(), v, f.lo, f.hi)
	}
	return v, nil
}

func (c *Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<t.Day()) != 0
	dow := c.dow&(1<<int(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// Next returns the first minute strictly after `after` that the
// expression matches, in after's location. It returns the zero time if
// none comes within ten years (which ParseCron's check makes impossible
// for the expressions it accepts, short of a timezone oddity).
func (c *Cron) Next(after time.Time) time.Time {
	loc := after.Location()
	// The next whole minute, counted in absolute time so that a DST
	// change in between cannot make it go backwards.
	t := after.Add(time.Minute - time.Duration(after.Second())*time.Second - time.Duration(after.Nanosecond()))
	limit := after.Year() + 10
	for t.Year() <= limit {
		var next time.Time
		switch {
		case c.month&(1<<int(t.Month())) == 0:
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !c.dayMatches(t):
			next = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case c.hour&(1<<t.Hour()) == 0:
			next = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case c.minute&(1<<t.Minute()) == 0:
			next = t.Add(time.Minute)
		default:
			return t
		}
		// Wall-clock arithmetic across a DST change can land on or before
		// t; step a minute instead so the search always advances.
		if !next.After(t) {
			next = t.Add(time.Minute)
		}
		t = next
	}
	return time.Time{}
}
