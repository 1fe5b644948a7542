package engine

import (
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// evidence holds the values a state finding's Evidence points to. The map
// takes pointers into one of these rather than the values themselves:
// a value in an `any` is a copy on the heap of its own, and a finding
// would cost a dozen small allocations where this costs none: it is part
// of the finding (Violation.ev). Evidence is only ever written out as
// JSON, which reads through the pointers.
type evidence struct {
	since, deadline, created, due, entered, last time.Time
	task, text, assignee                         string
}

// evidenceOf says what a state rule's finding rests on: the task and its
// due time, the stage entry and its SLA, the pipeline entry and its
// lifetime, the missing fields, and always when the condition began to
// hold and when it became a finding (past its grace).
func (m *Monitor) evidenceOf(v *Violation, r *regulations.QualityRule, threshold time.Time, t *funnelwatch.Task, a *Aggregate, since time.Time) map[string]any {
	d := a.Deal
	x := &v.ev
	*x = evidence{since: since}
	// Sized at once, to the entry: a map that grows is rebuilt, and one
	// of up to eight entries is a single group.
	n := 1
	if !threshold.IsZero() {
		n++
	}
	if r.Grace > 0 {
		n++
	}
	if t != nil {
		n += 4
		if t.Due != nil {
			n++
		}
		if t.Reschedules > 0 {
			n++
		}
	}
	switch r.ID {
	case regulations.RuleStageSLA, regulations.RulePipelineLifetime, regulations.RuleNoNextTask:
		n += 2
	}
	ev := make(map[string]any, n)
	ev["since"] = &x.since
	if !threshold.IsZero() {
		x.since, x.deadline = threshold, threshold
		ev["deadline"] = &x.deadline
	}
	if r.Grace > 0 {
		ev["grace"] = m.durationText(r.Grace)
	}
	if t != nil {
		x.task, x.text, x.assignee, x.created = t.ID, t.Text, t.Assignee, t.CreatedAt
		ev["task_id"], ev["task_text"], ev["assignee"], ev["task_created_at"] = &x.task, &x.text, &x.assignee, &x.created
		if t.Due != nil {
			x.due = *t.Due
			ev["due"] = &x.due
		}
		if t.Reschedules > 0 {
			ev["reschedules"] = t.Reschedules
		}
	}
	switch r.ID {
	case regulations.RuleStageSLA:
		x.entered = d.StageEnteredAt
		ev["stage_entered_at"] = &x.entered
		ev["sla"] = m.durationText(threshold.Sub(d.StageEnteredAt))
	case regulations.RulePipelineLifetime:
		x.entered = d.PipelineEnteredAt
		ev["pipeline_entered_at"] = &x.entered
		ev["limit"] = m.durationText(threshold.Sub(d.PipelineEnteredAt))
	case regulations.RuleNoNextTask:
		var last *time.Time
		for _, t := range a.Tasks {
			if t.CompletedAt != nil && (last == nil || t.CompletedAt.After(*last)) {
				last = t.CompletedAt
			}
		}
		if last != nil {
			x.last = *last
			ev["last_task_closed_at"] = &x.last
		}
	}
	return ev
}

// durationText returns a duration as evidence writes it ("1h0m0s"), made
// once per duration: the same few graces, SLAs and limits recur.
func (m *Monitor) durationText(d time.Duration) any {
	s, ok := m.durations[d]
	if !ok {
		s = any(d.String())
		if len(m.durations) < 1024 {
			m.durations[d] = s
		}
	}
	return s
}
