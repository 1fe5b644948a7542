package report

import (
	"context"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// DefaultSuccessfulCall is how long an answered call lasts at least to be
// a successful contact (DESIGN §6: 40 s).
const DefaultSuccessfulCall = 40 * time.Second

// ManagersOptions tune the managers report.
type ManagersOptions struct {
	// SuccessfulCall is the shortest answered call that is a successful
	// contact; DefaultSuccessfulCall when 0.
	SuccessfulCall time.Duration
}

// ManagersReport is the managers report of a period [From, To): the
// figures of each manager, keyed by user id (DESIGN §4.2, §6). The API
// writes Managers alone, a JSON object whose keys are user ids.
type ManagersReport struct {
	From           time.Time
	To             time.Time
	SuccessfulCall time.Duration
	Managers       map[string]*ManagerFigures
}

// ManagerFigures are a manager's figures of the period. A deal counts for
// its responsible now; a call, for the user who made or took it; a task,
// for its assignee; a finding, for the user accountable for it. Ratios
// are 0 when their denominator is. docs/api.md gives every field's
// meaning.
type ManagerFigures struct {
	Name string `json:"name"`
	// DealsHandled counts the deals the manager is responsible for that
	// were open at some moment of the period (created before its end, not
	// closed or deleted before its start) — the active deals of the
	// quality report.
	DealsHandled int `json:"deals_handled"`
	// Won and Lost count the deals closed in the period as won or lost
	// (and not reopened since). WinRate is Won / (Won + Lost); Revenue
	// the amount of the won ones, AvgCheck Revenue / Won, in roubles;
	// CycleMedianDays the median of their creation-to-win times, in days.
	Won             int     `json:"won"`
	Lost            int     `json:"lost"`
	WinRate         float64 `json:"win_rate"`
	Revenue         float64 `json:"revenue"`
	AvgCheck        float64 `json:"avg_check"`
	CycleMedianDays float64 `json:"cycle_median_days"`
	// Violations and Remarks count the findings opened in the period that
	// the manager is accountable for, per 100 deals handled, and their
	// share of the whole team's (0.25 is a quarter).
	Violations            int     `json:"violations"`
	Remarks               int     `json:"remarks"`
	ViolationsPer100Deals float64 `json:"violations_per_100_active_deals"`
	RemarksPer100Deals    float64 `json:"remarks_per_100_active_deals"`
	ViolationsShare       float64 `json:"violations_share"`
	RemarksShare          float64 `json:"remarks_share"`
	CallsIn               int     `json:"calls_in"`
	CallsOut              int     `json:"calls_out"`
	CallsAnswered         int     `json:"calls_answered"`
	SuccessfulContacts    int     `json:"successful_contacts"`
	TalkTimeS             int64   `json:"talk_time_s"`
	AvgCallS              float64 `json:"avg_call_s"`
	MissedCalls           int     `json:"missed_calls"`
	MissedNotReturned     int     `json:"missed_not_returned"`
	CallbackMedianMinutes float64 `json:"callback_median_minutes"`
	CardsChanged          int     `json:"cards_changed"`
	CallsPerCardChanged   float64 `json:"calls_per_card_changed"`
	TasksCreated          int     `json:"tasks_created"`
	TasksPerDeal          float64 `json:"tasks_per_deal"`
	OverdueTasks          int     `json:"overdue_tasks"`
	// Previous are the manager's figures of the period of equal length
	// just before (the week before, for a week): week over week. Absent
	// in Previous itself.
	Previous *ManagerFigures `json:"previous,omitempty"`
}

// Managers computes the managers report of [from, to). now is the
// present: a task due after it is not overdue yet (a zero now is the
// period's end). Every manager of the funnel has a line, and so does any
// other user with a figure of the period. A period that is empty,
// reversed or longer than MaxPeriod is an EINVALID error.
func Managers(ctx context.Context, tx funnelwatch.ReadTx, f *funnelwatch.Funnel, from, to, now time.Time, opts ManagersOptions) (*ManagersReport, error) {
	if err := checkPeriod(from, to); err != nil {
		return nil, err
	}
	if opts.SuccessfulCall <= 0 {
		opts.SuccessfulCall = DefaultSuccessfulCall
	}
	loc := location(f)
	r := &ManagersReport{From: from.In(loc), To: to.In(loc), SuccessfulCall: opts.SuccessfulCall}
	var err error
	if r.Managers, err = managerFigures(ctx, tx, f, from, to, now, opts); err != nil {
		return nil, err
	}
	prev, err := managerFigures(ctx, tx, f, from.Add(-to.Sub(from)), from, now, opts)
	if err != nil {
		return nil, err
	}
	for u, m := range r.Managers {
		m.Previous = prev[u]
		if m.Previous == nil {
			m.Previous = &ManagerFigures{Name: m.Name}
		}
	}
	return r, nil
}

// managerFigures computes the figures of [from, to) by user: the
// managers of the funnel and the users with a figure of the period.
func managerFigures(ctx context.Context, tx funnelwatch.ReadTx, f *funnelwatch.Funnel, from, to, now time.Time, opts ManagersOptions) (map[string]*ManagerFigures, error) {
	managers := map[string]*ManagerFigures{}
	get := func(u string) *ManagerFigures {
		m := managers[u]
		if m == nil {
			m = &ManagerFigures{Name: f.UserName(u)}
			managers[u] = m
		}
		return m
	}
	if f != nil {
		for _, u := range f.Users {
			if u.Role == funnelwatch.RoleManager {
				get(u.ID)
			}
		}
	}
	end := to
	if !now.IsZero() && now.Before(to) {
		end = now
	}

	active, err := tx.ActiveDeals(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for u, n := range active.ByResponsible {
		if u != "" {
			get(u).DealsHandled = n
		}
	}

	closed, err := tx.ClosedDeals(ctx, from, to)
	if err != nil {
		return nil, err
	}
	cycles := map[string][]float64{}
	for _, d := range closed {
		if d.Responsible == "" {
			continue
		}
		m := get(d.Responsible)
		switch d.Status {
		case funnelwatch.DealWon:
			m.Won++
			m.Revenue += d.Amount
			cycles[d.Responsible] = append(cycles[d.Responsible], d.ClosedAt.Sub(d.CreatedAt).Hours()/24)
		case funnelwatch.DealLost:
			m.Lost++
		}
	}

	flow, err := tx.Violations(ctx, funnelwatch.ViolationFilter{From: from, To: to})
	if err != nil {
		return nil, err
	}
	var allViolations, allRemarks int
	for _, v := range flow {
		remark := v.Severity == funnelwatch.SeverityRemark
		if remark {
			allRemarks++
		} else {
			allViolations++ // an unknown severity weighs as a violation, as in the quality report
		}
		if v.User == "" {
			continue
		}
		if remark {
			get(v.User).Remarks++
		} else {
			get(v.User).Violations++
		}
	}

	calls, err := tx.CallStats(ctx, from, to, opts.SuccessfulCall)
	if err != nil {
		return nil, err
	}
	for _, c := range calls {
		if c.User == "" {
			continue
		}
		m := get(c.User)
		if c.Direction == "in" {
			m.CallsIn += c.Calls
		} else {
			m.CallsOut += c.Calls
		}
		m.CallsAnswered += c.Answered
		m.SuccessfulContacts += c.Successful
		m.TalkTimeS += c.TalkS
	}
	missed, err := tx.MissedCalls(ctx, from, to)
	if err != nil {
		return nil, err
	}
	callbacks := map[string][]float64{}
	for _, c := range missed {
		if c.Call.User == "" {
			continue
		}
		m := get(c.Call.User)
		m.MissedCalls++
		if c.Returned == nil {
			m.MissedNotReturned++
			continue
		}
		callbacks[c.Call.User] = append(callbacks[c.Call.User], c.Returned.Sub(c.Call.StartedAt).Minutes())
	}
	cards, err := tx.CardChanges(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for u, n := range cards {
		get(u).CardsChanged = n
	}
	tasks, err := tx.TaskStats(ctx, from, to, end)
	if err != nil {
		return nil, err
	}
	for _, t := range tasks {
		if t.User == "" {
			continue
		}
		m := get(t.User)
		m.TasksCreated += t.Created
		m.OverdueTasks += t.Overdue
	}

	for u, m := range managers {
		m.Revenue = roundKopecks(m.Revenue)
		m.WinRate = ratio(float64(m.Won), float64(m.Won+m.Lost))
		m.AvgCheck = roundKopecks(ratio(m.Revenue, float64(m.Won)))
		m.CycleMedianDays = median(cycles[u])
		m.ViolationsPer100Deals = per100(m.Violations, m.DealsHandled)
		m.RemarksPer100Deals = per100(m.Remarks, m.DealsHandled)
		m.ViolationsShare = ratio(float64(m.Violations), float64(allViolations))
		m.RemarksShare = ratio(float64(m.Remarks), float64(allRemarks))
		m.AvgCallS = ratio(float64(m.TalkTimeS), float64(m.CallsAnswered))
		m.CallbackMedianMinutes = median(callbacks[u])
		m.CallsPerCardChanged = ratio(float64(m.CallsIn+m.CallsOut), float64(m.CardsChanged))
		m.TasksPerDeal = ratio(float64(m.TasksCreated), float64(m.DealsHandled))
	}
	return managers, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// median is the middle value, or the mean of the two middle ones (0 for
// none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
