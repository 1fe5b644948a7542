package engine

import (
	"time"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// evidenceOf says what a state rule's finding rests on: the task and its
// due time, the stage entry and its SLA, the pipeline entry and its
// lifetime, the missing fields, and always when the condition began to
// hold and when it became a finding (past its grace).
func evidenceOf(r *regulations.QualityRule, threshold time.Time, task string, a *Aggregate, since time.Time) map[string]any {
	d := a.Deal
	t := a.Tasks[task]
	// Sized at once: a map grown past eight entries is rebuilt.
	n := 4
	if t != nil {
		n += 6
	}
	ev := make(map[string]any, n)
	ev["since"] = since
	if !threshold.IsZero() {
		ev["since"] = threshold
		ev["deadline"] = threshold
	}
	if r.Grace > 0 {
		ev["grace"] = r.Grace.String()
	}
	if t != nil {
		ev["task_id"], ev["task_text"], ev["assignee"], ev["task_created_at"] = t.ID, t.Text, t.Assignee, t.CreatedAt
		if t.Due != nil {
			ev["due"] = *t.Due
		}
		if t.Reschedules > 0 {
			ev["reschedules"] = t.Reschedules
		}
	}
	switch r.ID {
	case regulations.RuleStageSLA:
		ev["stage_entered_at"] = d.StageEnteredAt
		ev["sla"] = threshold.Sub(d.StageEnteredAt).String()
	case regulations.RulePipelineLifetime:
		ev["pipeline_entered_at"] = d.PipelineEnteredAt
		ev["limit"] = threshold.Sub(d.PipelineEnteredAt).String()
	case regulations.RuleNoNextTask:
		var last *time.Time
		for _, t := range a.Tasks {
			if t.CompletedAt != nil && (last == nil || t.CompletedAt.After(*last)) {
				last = t.CompletedAt
			}
		}
		if last != nil {
			ev["last_task_closed_at"] = *last
		}
	}
	return ev
}
