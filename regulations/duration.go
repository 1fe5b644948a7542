package regulations

import (
	"math"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// durationUnits are the units a regulations duration may use. Days and
// weeks are calendar-free fixed lengths (24 h, 7 d): an SLA of 1d is 24
// hours, whatever the clock does in between.
var durationUnits = map[byte]time.Duration{
	's': time.Second,
	'm': time.Minute,
	'h': time.Hour,
	'd': 24 * time.Hour,
	'w': 7 * 24 * time.Hour,
}

// ParseDuration parses a duration as the regulations file writes it: a
// number and a unit — 90s, 15m, 2h, 1d, 7d, 2w — or several of them
// combined, 1h30m, 1d12h. "0" alone is zero. A bare number other than 0,
// a negative or fractional value, or an unknown unit is an error: "7"
// could mean minutes or days, and a wrong guess breaks an SLA silently.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "0" {
		return 0, nil
	}
	bad := problemf("bad duration %q (use 90s, 15m, 2h, 1d, 7d)", "неверная длительность %q (пишите 90s, 15m, 2h, 1d, 7d)", s)
	if in == "" {
		return 0, bad
	}
	var total time.Duration
	for i := 0; i < len(in); {
		j := i
		for j < len(in) && in[j] >= '0' && in[j] <= '9' {
			j++
		}
		if j == i || j == len(in) {
			return 0, bad // no number, or a number without a unit
		}
		unit, ok := durationUnits[in[j]]
		if !ok {
			return 0, bad
		}
		var n int64
		for _, c := range in[i:j] {
			n = n*10 + int64(c-'0')
			if n > math.MaxInt64/int64(7*24*time.Hour) {
				return 0, problemf("duration %q is too long", "длительность %q слишком велика", s)
			}
		}
		d := time.Duration(n) * unit
		if total > math.MaxInt64-d {
			return 0, problemf("duration %q is too long", "длительность %q слишком велика", s)
		}
		total += d
		i = j + 1
	}
	return total, nil
}

// duration reads a duration key; with positive set, zero is an error too
// (an SLA or a due time of 0 means nothing).
func (m *mapping) duration(k string, positive bool) (time.Duration, *entry) {
	e := m.get(k)
	if e == nil {
		return 0, nil
	}
	d, ok := m.d.durationOf(e.val, m.key(k), k, positive)
	if !ok {
		return 0, nil
	}
	return d, e
}

// durationOf reads n as a duration; name is the key's own name for messages.
func (d *decoder) durationOf(n ast.Node, key, name string, positive bool) (time.Duration, bool) {
	s, ok := d.scalar(n, key)
	if !ok {
		return 0, false
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.report(posOf(n), key, err)
		return 0, false
	}
	if positive && v == 0 {
		d.errorf(posOf(n), key, "%s must be more than 0", "значение %s должно быть больше 0", name)
		return 0, false
	}
	return v, true
}
