// Package regulations reads the regulations file — the company's sales
// regulations as code (DESIGN §4.4) — into typed values and checks it.
// Every error names the line and the key it is about.
package regulations

import (
	"regexp"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// Regulations is a parsed, validated regulations file.
type Regulations struct {
	funnelwatch.Funnel // company, location (timezone), pipelines with stages, users

	Timezone     string // IANA name as written, e.g. Europe/Moscow
	WorkingHours Hours  // the company's default working day

	// Lifetimes holds, per pipeline id, what happens when a deal outlives
	// the pipeline's lifetime limit (nil: the limit only feeds the
	// pipeline_lifetime rule).
	Lifetimes map[string]*LifetimeThen

	Automations []Automation // including those written as a stage's on_enter
	Quality     []QualityRule

	Notifications Notifications
	// Reports are the scheduled quality reports; nil when the file has
	// no `reports:` (ScheduledReports gives the default then).
	Reports []ReportSchedule
}

// Notifications is how notices reach people: when they are held and when
// many become one.
type Notifications struct {
	// QuietHours is a daily window, in the company's timezone, in which
	// notices are held and then delivered when it ends; From > To spans
	// midnight ("21:00-09:00"). Zero: none.
	QuietHours Hours
	// DigestOver and DigestWithin: when one target has already had
	// DigestOver notices within DigestWithin, the next ones are held and
	// sent as one summary when that window has passed. Zero: never.
	DigestOver   int
	DigestWithin time.Duration
}

// Quiet reports whether t (in the company's timezone) falls in the quiet
// hours, and when they end.
func (n Notifications) Quiet(t time.Time) (bool, time.Time) {
	h := n.QuietHours
	if h.IsZero() {
		return false, time.Time{}
	}
	y, mo, d := t.Date()
	minute := t.Hour()*60 + t.Minute()
	at := func(day, minutes int) time.Time {
		return time.Date(y, mo, d+day, minutes/60, minutes%60, 0, 0, t.Location())
	}
	if h.From < h.To { // within one day
		if minute >= h.From && minute < h.To {
			return true, at(0, h.To)
		}
		return false, time.Time{}
	}
	switch { // spans midnight
	case minute >= h.From:
		return true, at(1, h.To)
	case minute < h.To:
		return true, at(0, h.To)
	}
	return false, time.Time{}
}

// Hours is a daily working window in local time, as minutes from midnight.
type Hours struct {
	From, To int // e.g. 540, 1260 for "09:00-21:00"
}

// IsZero reports whether no working hours are set (all day).
func (h Hours) IsZero() bool { return h.From == 0 && h.To == 0 }

// LifetimeThen is the action of a pipeline's lifetime limit.
type LifetimeThen struct {
	MoveTo string   // pipeline-qualified stage ref "pipeline/stage"
	Assign Assignee // zero: keep the responsible
}

// Trigger is what sets an automation off.
type Trigger string

// Triggers (DESIGN §5).
const (
	TriggerDealCreated        Trigger = "deal.created"
	TriggerStageEntered       Trigger = "stage.entered"
	TriggerFieldChanged       Trigger = "field.changed"
	TriggerResponsibleChanged Trigger = "responsible.changed"
	TriggerTaskOverdue        Trigger = "task.overdue"
	TriggerDealIdle           Trigger = "deal.idle"
	TriggerStageSLA           Trigger = "stage.sla_passed"
	TriggerLifetime           Trigger = "lifetime.passed"
	TriggerCallMissed         Trigger = "call.missed"
	TriggerDealWon            Trigger = "deal.won"
	TriggerDealLost           Trigger = "deal.lost"
	TriggerSchedule           Trigger = "schedule"
)

// TriggerFinding is what a quality rule's notice says set it off: its
// finding opened. Not a trigger an automation may name.
const TriggerFinding Trigger = "finding.opened"

// Triggers lists every trigger.
var Triggers = []Trigger{
	TriggerDealCreated, TriggerStageEntered, TriggerFieldChanged, TriggerResponsibleChanged,
	TriggerTaskOverdue, TriggerDealIdle, TriggerStageSLA, TriggerLifetime, TriggerCallMissed,
	TriggerDealWon, TriggerDealLost, TriggerSchedule,
}

// Automation is a robot: when its trigger fires (and its condition holds,
// and after its delay the trigger still holds), it does its actions.
type Automation struct {
	ID   string
	Line int // line of the automation in the file, for messages
	When Trigger

	Pipelines []string      // scope: pipeline ids (empty: all)
	Stage     string        // scope: "pipeline/stage" for stage-bound triggers (empty: any)
	Field     string        // field.changed: the field watched ("amount", "responsible" or a custom field)
	Idle      time.Duration // deal.idle: how long without an event
	Cron      string        // schedule: five-field cron expression in the company's timezone
	Schedule  *Cron         // schedule: Cron parsed, for Next (nil for other triggers)
	After     time.Duration // delay; acts only if the trigger still holds then
	If        string        // optional expression condition over the deal

	Do []Action
}

// ActionKind names an automation action; the names match the backtest
// output's action types (DESIGN §4.3).
type ActionKind string

// Action kinds.
const (
	ActionTask    ActionKind = "task"
	ActionMove    ActionKind = "move"
	ActionAssign  ActionKind = "assign"
	ActionNotify  ActionKind = "notify"
	ActionMessage ActionKind = "message"
	ActionCopy    ActionKind = "copy"
	ActionWebhook ActionKind = "webhook"
)

// Action is one thing an automation does. Only the fields of its Kind are set.
type Action struct {
	Kind ActionKind
	Line int

	Task   *TaskSpec   // task
	MoveTo string      // move, copy: pipeline-qualified stage ref "pipeline/stage"
	Assign Assignee    // assign
	Notify []Recipient // notify
	// NotifyChannel, when set ("telegram" or "email"), is the channel a
	// notice to a user goes by; otherwise their Telegram chat, else their
	// e-mail.
	NotifyChannel string
	Message       *MessageSpec
	Webhook       *WebhookSpec
}

// TaskSpec is the task an action creates.
type TaskSpec struct {
	Assignee     Assignee // zero: the deal's responsible
	Text         string
	Due          time.Duration // from the moment the action fires
	Kind         string        // call, meeting, follow-up, control (default follow-up)
	WorkingHours bool          // count Due in the assignee's working hours
}

// MessageSpec is a message template sent to the deal's contact through a
// messenger gateway.
type MessageSpec struct {
	Channel  string // whatsapp, telegram, sms
	Template string
}

// WebhookSpec is an outgoing HTTP call.
type WebhookSpec struct {
	URL string
}

// AssigneeKind is the form of an assignee or recipient reference.
type AssigneeKind string

// Assignee forms (DESIGN §4.4).
const (
	AssignResponsible AssigneeKind = "responsible"
	AssignSupervisor  AssigneeKind = "supervisor"
	AssignUser        AssigneeKind = "user"
	AssignRole        AssigneeKind = "role"
	AssignRoundRobin  AssigneeKind = "round_robin" // round_robin:ROLE — next on shift in turn
	AssignChat        AssigneeKind = "chat"        // recipients only: a Telegram chat id
	AssignEmail       AssigneeKind = "email"       // recipients only: an e-mail address
)

// Assignee is a reference to who gets a task, a deal or a notice:
// responsible, supervisor, user:ID, role:NAME, round_robin:NAME.
type Assignee struct {
	Kind  AssigneeKind
	Value string // user id, role name, chat id or address
}

// IsZero reports whether no assignee is set.
func (a Assignee) IsZero() bool { return a.Kind == "" }

// String returns the reference in the file's form.
func (a Assignee) String() string {
	if a.Value == "" {
		return string(a.Kind)
	}
	return string(a.Kind) + ":" + a.Value
}

// Recipient is who a notice goes to; same forms as Assignee plus chat:ID
// and email:ADDRESS.
type Recipient = Assignee

// Severity of a quality finding.
type Severity string

// Severities.
const (
	SeverityViolation Severity = "violation" // нарушение
	SeverityRemark    Severity = "remark"    // замечание
)

// Rule ids of the quality catalogue (DESIGN §4.3). They are stable.
const (
	RuleNoNextTask            = "no_next_task"
	RuleTaskOverdue           = "task_overdue"
	RuleTaskNoDue             = "task_no_due"
	RuleStageSLA              = "stage_sla"
	RulePipelineLifetime      = "pipeline_lifetime"
	RuleRequiredFields        = "required_fields"
	RuleJunkField             = "junk_field"
	RuleBackwardMove          = "backward_move"
	RuleLostWithoutReason     = "lost_without_reason"
	RuleLostTooFast           = "lost_too_fast"
	RuleFirstResponse         = "first_response"
	RuleMissedCallCallback    = "missed_call_callback"
	RuleCallWithoutUpdate     = "call_without_update"
	RuleEmptyComment          = "empty_comment"
	RuleRescheduleWithoutCall = "reschedule_without_call"
	RuleHighValueUnsupervised = "high_value_unsupervised"
	RuleMassClosing           = "mass_closing"
	RuleAnomaly               = "anomaly"
	RuleExpr                  = "expr"
)

// QualityRule is one entry of the quality section: a catalogue rule with
// its parameters, or an expression rule under its own id.
type QualityRule struct {
	Rule      string // catalogue id, or "expr"
	ID        string // the finding's id: Rule for catalogue rules, the file's id for expr rules
	Line      int
	Severity  Severity      // default violation
	Grace     time.Duration // default 0
	Pipelines []string      // scope (empty: every pipeline)
	Stages    []string      // scope: "pipeline/stage" refs (empty: every stage)

	Message        string // overrides the catalogue's message (Russian first)
	Recommendation string

	// Notify: who is told when a finding of the rule opens (the same forms
	// as an automation's notify; responsible is the finding's accountable
	// manager). NotifyChannel as an automation's.
	Notify        []Recipient
	NotifyChannel string

	// Parameters; which apply depends on the rule (docs/regulations.md).
	Limit       time.Duration    // first_response, missed_call_callback, lost_too_fast, call_without_update, empty_comment, high_value_unsupervised
	Window      time.Duration    // mass_closing
	Count       int              // mass_closing, reschedule_without_call
	Amount      float64          // high_value_unsupervised
	MinLength   int              // empty_comment, junk_field
	MinDuration time.Duration    // call_without_update: calls shorter than this are ignored
	Fields      []string         // required_fields (extra), junk_field
	Patterns    []string         // junk_field, empty_comment: regular expressions
	Regexps     []*regexp.Regexp // Patterns compiled, in the same order
	Metric      string           // anomaly: short_calls, long_calls, long_cycle, low_check
	Threshold   float64          // anomaly: factor against the team median
	When        string           // expr: the condition, an expression over the deal
}
