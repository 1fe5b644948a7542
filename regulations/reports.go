package regulations

import (
	"slices"
	"strings"
)

// ReportSchedule is a quality report sent on a schedule (`reports:`).
type ReportSchedule struct {
	ID string
	// Period is what the report covers, as `funnelwatch report --period`
	// names it: last-week, yesterday, last-7-days, …
	Period   string
	Cron     string
	Schedule *Cron
	// To are the recipients: user:ID, role:NAME (every user of the role),
	// chat:ID, email:ADDRESS.
	To   []Recipient
	Line int
}

// ReportPeriods are the periods a scheduled report may cover.
var ReportPeriods = []string{"last-week", "this-week", "yesterday", "today", "last-7-days"}

// DefaultReport is the report a file without `reports:` gets: the past
// week, on Monday at 09:00, to every supervisor and admin (seed 000: «Раз
// в неделю в телеграм-чат приходит отчет по контролю качества»).
func (r *Regulations) DefaultReport() ReportSchedule {
	cron, _ := ParseCron("0 9 * * MON")
	rep := ReportSchedule{ID: "weekly_quality", Period: "last-week", Cron: "0 9 * * MON", Schedule: cron}
	for _, u := range r.Users {
		if u.Role == "supervisor" || u.Role == "admin" {
			rep.To = append(rep.To, Recipient{Kind: AssignUser, Value: u.ID})
		}
	}
	return rep
}

// ScheduledReports returns the file's reports, or the default one.
func (r *Regulations) ScheduledReports() []ReportSchedule {
	if r.Reports != nil {
		return r.Reports
	}
	return []ReportSchedule{r.DefaultReport()}
}

// decodeReports reads `reports: [{id, period, cron, to}]`. An empty list
// turns the default report off.
func (c *checker) decodeReports(items []item) {
	c.r.Reports = []ReportSchedule{}
	seen := map[string]pos{}
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		rep := ReportSchedule{Line: m.at.line, Period: "last-week"}
		if id, e := m.required("id"); e != nil && c.checkID(e, m.key("id"), id) && c.unique(seen, e, m.key("id"), text("report id", "id отчёта"), id) {
			rep.ID = id
		}
		if p, e := m.str("period"); e != nil {
			if !slices.Contains(ReportPeriods, p) {
				c.errorf(e.valPos(), m.key("period"), "unknown period %q (valid: %s)", "неизвестный период %q (допустимые: %s)", p, strings.Join(ReportPeriods, ", "))
			}
			rep.Period = p
		}
		if s, e := m.required("cron"); e != nil {
			cron, err := ParseCron(s)
			if err != nil {
				c.report(e.valPos(), m.key("cron"), err)
			}
			rep.Cron, rep.Schedule = s, cron
		}
		if e := m.get("to"); e != nil {
			for _, ri := range c.asList(e.val, m.key("to"), true) {
				s, ok := c.scalar(ri.node, ri.path)
				if !ok {
					continue
				}
				if s == string(AssignResponsible) || s == string(AssignSupervisor) {
					c.errorf(ri.at, ri.path, "%s needs a deal; a report goes to user:ID, role:NAME, chat:ID or email:ADDRESS",
						"%s определяется по сделке; отчёт отправляют на user:ID, role:NAME, chat:ID или email:ADDRESS", s)
					continue
				}
				if r, ok := c.assignee(s, ri.path, ri.at, true); ok {
					rep.To = append(rep.To, r)
				}
			}
		}
		if len(rep.To) == 0 {
			c.errorf(m.at, m.key("to"), "a report needs at least one recipient (to: [role:supervisor])",
				"у отчёта должен быть хотя бы один получатель (to: [role:supervisor])")
		}
		m.done("")
		c.r.Reports = append(c.r.Reports, rep)
	}
}
