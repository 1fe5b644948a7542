package engine

import (
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// The anomaly rule compares each manager with the team once a day, at
// midnight in the company's time zone, over the seven days before.
const (
	anomalyWindow   = 7 * 24 * time.Hour
	minCallsForMean = 5 // a manager's call average counts from this many answered calls
	minWinsForMean  = 3 // a manager's cycle and check count from this many wins
	minPeers        = 3 // a team median needs this many managers with a figure
)

type callFact struct {
	user string
	at   time.Time
	dur  float64 // seconds
}

type winFact struct {
	user      string
	at        time.Time
	cycleDays float64
	amount    float64
}

// recordForAnomaly keeps the facts the anomaly rule judges, and starts the
// daily check with the first event.
func (m *Monitor) recordForAnomaly(e *funnelwatch.Event, prev *funnelwatch.Deal, agg *Aggregate) {
	if !m.anomalyStarted {
		m.anomalyStarted = true
		m.schedule(timer{at: nextMidnight(e.At, m.regs.Location), kind: timerAnomaly})
	}
	switch {
	case e.Type == funnelwatch.EventCall && e.Call.Answered && e.Call.User != "":
		m.calls = append(m.calls, callFact{e.Call.User, e.At, float64(e.Call.DurationS)})
	case e.Type == funnelwatch.EventDealStageChanged && agg != nil && agg.Deal != nil:
		d := agg.Deal
		if d.Status == funnelwatch.DealWon && (prev == nil || prev.Status != funnelwatch.DealWon) && d.Responsible != "" {
			m.wins = append(m.wins, winFact{d.Responsible, e.At, e.At.Sub(d.CreatedAt).Hours() / 24, d.Amount})
		}
	}
}

func nextMidnight(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}

// checkAnomalies judges every manager against the team median at now and
// schedules the next check.
func (m *Monitor) checkAnomalies(now time.Time) {
	m.schedule(timer{at: nextMidnight(now, m.regs.Location), kind: timerAnomaly})
	from := now.Add(-anomalyWindow)
	m.calls = slices.DeleteFunc(m.calls, func(c callFact) bool { return c.at.Before(from) })
	m.wins = slices.DeleteFunc(m.wins, func(w winFact) bool { return w.at.Before(from) })

	perUser := func(n int, each func(func(user string, v float64))) map[string]float64 {
		sum, cnt := map[string]float64{}, map[string]int{}
		each(func(u string, v float64) { sum[u] += v; cnt[u]++ })
		out := map[string]float64{}
		for u, c := range cnt {
			if c >= n {
				out[u] = sum[u] / float64(c)
			}
		}
		return out
	}
	callAvg := perUser(minCallsForMean, func(f func(string, float64)) {
		for _, c := range m.calls {
			f(c.user, c.dur)
		}
	})
	cycle := perUser(minWinsForMean, func(f func(string, float64)) {
		for _, w := range m.wins {
			f(w.user, w.cycleDays)
		}
	})
	check := perUser(minWinsForMean, func(f func(string, float64)) {
		for _, w := range m.wins {
			f(w.user, w.amount)
		}
	})
	figures := map[string]map[string]float64{
		regulations.MetricShortCalls: callAvg, regulations.MetricLongCalls: callAvg,
		regulations.MetricLongCycle: cycle, regulations.MetricLowCheck: check,
	}
	for _, r := range m.rules {
		if r.Rule != regulations.RuleAnomaly {
			continue
		}
		for _, metric := range r.Metrics() {
			fig := figures[metric]
			med, ok := median(fig)
			holding := map[string]bool{}
			if ok && med > 0 {
				for user, v := range fig {
					if anomalous(metric, v, med, r.Threshold) {
						holding[user] = true
					}
				}
			}
			m.settleAnomalies(now, r, metric, holding)
		}
	}
}

func anomalous(metric string, v, med, threshold float64) bool {
	if threshold <= 1 {
		threshold = 2
	}
	switch metric {
	case regulations.MetricShortCalls, regulations.MetricLowCheck:
		return v <= med/threshold
	case regulations.MetricLongCalls, regulations.MetricLongCycle:
		return v >= med*threshold
	}
	return false
}

func median(fig map[string]float64) (float64, bool) {
	if len(fig) < minPeers {
		return 0, false
	}
	vs := make([]float64, 0, len(fig))
	for _, v := range fig {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2], true
	}
	return (vs[n/2-1] + vs[n/2]) / 2, true
}

// settleAnomalies opens the findings of the managers who are anomalous now
// and resolves those who no longer are.
func (m *Monitor) settleAnomalies(now time.Time, r *regulations.QualityRule, metric string, holding map[string]bool) {
	users := make([]string, 0, len(holding))
	for u := range holding {
		users = append(users, u)
	}
	slices.Sort(users)
	isOf := func(v *Violation) bool { return v.kind == findAnomaly && v.Rule == r.ID && v.Metric == metric }
	for _, u := range users {
		if !slices.ContainsFunc(m.open[""], func(v *Violation) bool { return isOf(v) && v.User == u }) {
			v := m.newViolation(now, r, nil, "", "", u)
			v.kind = findAnomaly
			v.Metric = metric
			v.Evidence = NewEvidence(map[string]any{"metric": metric})
			m.open[""] = append(m.open[""], v)
		}
	}
	open := m.open[""][:0]
	for _, v := range m.open[""] {
		if isOf(v) && !holding[v.User] {
			m.resolve(v, now)
			continue
		}
		open = append(open, v)
	}
	clear(m.open[""][len(open):])
	if len(open) == 0 {
		delete(m.open, "")
	} else {
		m.open[""] = open
	}
}
