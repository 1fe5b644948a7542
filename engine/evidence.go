package engine

import (
	"encoding/json"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Evidence is what a finding rests on, written out as a JSON object (the
// task and its due time, the call, the stage entry and its SLA…). A
// state finding's is kept as the values it names, part of the finding,
// and made into the object only when written: a replay opens hundreds
// of thousands of findings, and a map each (two allocations, and a
// collector's scan of every entry for as long as the finding is kept)
// was a tenth of its allocations. The others (findings of a moment,
// callbacks, anomalies) are few and keep their map.
type Evidence struct {
	kv map[string]any
	st *evidence
}

// NewEvidence returns the evidence of the entries given.
func NewEvidence(kv map[string]any) Evidence { return Evidence{kv: kv} }

// IsZero reports whether there is no evidence.
func (e Evidence) IsZero() bool { return e.kv == nil && e.st == nil }

// Map returns the evidence as the object it is written as (nil: none).
func (e Evidence) Map() map[string]any {
	if e.st != nil {
		return e.st.object()
	}
	return e.kv
}

// MarshalJSON writes the object (null: none), keys sorted.
func (e Evidence) MarshalJSON() ([]byte, error) { return json.Marshal(e.Map()) }

// evidence is what a state finding's evidence says (Violation.ev), in
// as few bytes as say it: every finding holds one. The deadline, when
// there is one, is since; mark is the stage's or the pipeline's entry, or
// when the last task closed, as the rule says; the SLA or the lifetime
// is the deadline less the entry.
type evidence struct {
	since, created, due, mark time.Time
	task, text, assignee      string
	grace                     time.Duration
	reschedules               int32
	has                       evidenceHas
	rule                      evidenceRule
}

// evidenceHas says which of the optional entries an evidence has.
type evidenceHas uint8

const (
	hasDeadline evidenceHas = 1 << iota
	hasTask
	hasDue
	hasLast
)

// evidenceRule is the rule whose evidence names the deal's entries.
type evidenceRule uint8

const (
	evOther evidenceRule = iota
	evStageSLA
	evLifetime
	evNoNextTask
)

// object is the evidence as written.
func (x *evidence) object() map[string]any {
	ev := make(map[string]any, 12)
	ev["since"] = x.since
	var deadline time.Time
	if x.has&hasDeadline != 0 {
		deadline = x.since
		ev["deadline"] = deadline
	}
	if x.grace > 0 {
		ev["grace"] = x.grace.String()
	}
	if x.has&hasTask != 0 {
		ev["task_id"], ev["task_text"], ev["assignee"], ev["task_created_at"] = x.task, x.text, x.assignee, x.created
		if x.has&hasDue != 0 {
			ev["due"] = x.due
		}
		if x.reschedules > 0 {
			ev["reschedules"] = x.reschedules
		}
	}
	switch x.rule {
	case evStageSLA:
		ev["stage_entered_at"] = x.mark
		ev["sla"] = deadline.Sub(x.mark).String()
	case evLifetime:
		ev["pipeline_entered_at"] = x.mark
		ev["limit"] = deadline.Sub(x.mark).String()
	case evNoNextTask:
		if x.has&hasLast != 0 {
			ev["last_task_closed_at"] = x.mark
		}
	}
	return ev
}

// evidenceOf records what a state rule's finding rests on: the task and
// its due time, the stage entry and its SLA, the pipeline entry and its
// lifetime, the last task closed, and always when the condition began to
// hold and when it became a finding (past its grace).
func evidenceOf(v *Violation, r *regulations.QualityRule, threshold time.Time, t *funnelwatch.Task, a *Aggregate, since time.Time) {
	d := a.Deal
	x := &v.ev
	*x = evidence{since: since, grace: r.Grace}
	if !threshold.IsZero() {
		x.since = threshold
		x.has |= hasDeadline
	}
	if t != nil {
		x.task, x.text, x.assignee, x.created = t.ID, t.Text, t.Assignee, t.CreatedAt
		x.has |= hasTask
		if t.Due != nil {
			x.due = *t.Due
			x.has |= hasDue
		}
		x.reschedules = int32(t.Reschedules)
	}
	switch r.ID {
	case regulations.RuleStageSLA:
		x.rule, x.mark = evStageSLA, d.StageEnteredAt
	case regulations.RulePipelineLifetime:
		x.rule, x.mark = evLifetime, d.PipelineEnteredAt
	case regulations.RuleNoNextTask:
		x.rule = evNoNextTask
		var last *time.Time
		for _, t := range a.Tasks {
			if t.CompletedAt != nil && (last == nil || t.CompletedAt.After(*last)) {
				last = t.CompletedAt
			}
		}
		if last != nil {
			x.mark = *last
			x.has |= hasLast
		}
	}
	v.Evidence = Evidence{st: x}
}
