package funnelwatch

import (
	"encoding/json"
	"time"
)

// Text is a string in the product's two languages.
type Text struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

// Severity grades a finding: a violation of the regulations, or a remark.
type Severity string

// Severities.
const (
	SeverityViolation Severity = "violation"
	SeverityRemark    Severity = "remark"
)

// Violation is a finding of a quality rule as the store keeps it: open
// from OpenedAt until ResolvedAt (nil while open).
type Violation struct {
	// ID is derived from the rule, the deal, the task, the call and the
	// opening time, so that evaluating the same log again finds the same
	// row.
	ID       string
	Rule     string
	Severity Severity
	Metric   string // anomaly: the metric out of line
	DealID   string
	TaskID   string
	CallID   string
	User     string // accountable: the deal's responsible, or the task's assignee
	Pipeline string // the deal's pipeline and stage when it opened
	Stage    string

	OpenedAt   time.Time
	ResolvedAt *time.Time

	Message        Text
	Recommendation Text
	// Evidence is what the finding rests on: the task and its due time,
	// the call, the stage entry and its SLA…, as a JSON object.
	Evidence json.RawMessage
	// Amount is the deal's amount when the finding opened; WinRate the
	// historical share of won deals among the closed ones that passed
	// through the stage. MoneyAtRisk is Amount × WinRate.
	Amount      float64
	WinRate     float64
	MoneyAtRisk float64
}

// Open reports whether the finding is still open.
func (v *Violation) Open() bool { return v.ResolvedAt == nil }

// ViolationFilter selects findings. Zero fields do not filter.
type ViolationFilter struct {
	DealID string
	User   string
	// Users, when not empty, keeps the findings of these users only (a
	// supervisor's team).
	Users []string
	Rule  string
	// Stage is a stage id (any pipeline) or "pipeline/stage".
	Stage    string
	Severity Severity
	// Open selects the findings still open (true) or resolved (false).
	Open *bool
	// From and To select the findings opened in [From, To): what happened
	// in a period, each finding in the one period it opened in, however
	// long it stayed open.
	From, To time.Time
	// OpenAt selects the findings open at that instant: opened at or
	// before it and not resolved by then (resolved after it, or not yet).
	// A finding resolved the instant it opened is never open.
	OpenAt time.Time
	// Newest lists the newest first: (opened_at, id) descending, so the
	// first page of a long list is read without walking the rest.
	Newest bool
	Offset int
	Limit  int // 0: no limit
}

// ViolationGroup counts the findings a filter selects that share a
// pipeline, stage, user, rule and severity — and a day and a deal, when
// grouped by them (ViolationGrouping). The reports tally these instead of
// reading every finding.
type ViolationGroup struct {
	Pipeline, Stage, User, Rule string
	Severity                    Severity
	// Day is the index i of the day [Days[i], Days[i+1]) the findings
	// opened in, -1 outside the days; 0 when not grouped by day.
	Day int
	// DealID is the findings' deal when grouped by deal.
	DealID   string
	Findings int
	// MaxMoneyAtRisk is the largest money at risk of the findings, and
	// LatestOpenedAt the latest opening.
	MaxMoneyAtRisk float64
	LatestOpenedAt time.Time
}

// ViolationGrouping says what ViolationGroups groups by besides the
// pipeline, stage, user, rule and severity.
type ViolationGrouping struct {
	// Days, with two instants or more, groups by the day [Days[i],
	// Days[i+1]) a finding opened in: the reports' days in the
	// workspace's timezone.
	Days []time.Time
	// ByDeal groups by deal.
	ByDeal bool
}

// ActionStatus is where an action of the outbox is.
type ActionStatus string

// Action statuses.
const (
	// ActionObserved: found in a recorded history (the CRM's own robots
	// acted then); listed, never executed.
	ActionObserved ActionStatus = "observed"
	// ActionPending: waiting for delivery (or for its next attempt).
	ActionPending ActionStatus = "pending"
	// ActionDone: applied (as an event in the log) or delivered.
	ActionDone ActionStatus = "done"
	// ActionFailed: given up, with the last error.
	ActionFailed ActionStatus = "failed"
)

// ActionRecord is an action of an automation in the outbox.
type ActionRecord struct {
	// Key is the idempotency key: the automation, what triggered it and
	// the action's index. A key is stored once.
	Key    string
	Type   string // task, move, assign, notify, message, copy, webhook
	Rule   string
	DealID string
	At     time.Time
	// Payload is the action as JSON (the task, the target stage, the
	// recipients, the URL…).
	Payload       json.RawMessage
	Status        ActionStatus
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	DoneAt        *time.Time
}

// ActionFilter selects actions. Zero fields do not filter.
type ActionFilter struct {
	DealID string
	Rule   string
	Type   string
	Status ActionStatus
	// DueBy selects pending actions whose next attempt is due at or
	// before it, oldest first.
	DueBy  time.Time
	Offset int
	Limit  int
}

// EngineState is the rules engine's checkpoint in a workspace.
type EngineState struct {
	// Seq is the log's seq up to which the engine's findings and actions
	// are written.
	Seq int64
	// Clock is the engine's clock at that point.
	Clock time.Time
	// ObserveUntil: actions due at or before it belong to a recorded
	// history (an import from a CRM that ran its own robots) and are
	// observed, not executed.
	ObserveUntil time.Time
}

// EngineSnapshot is the rules engine's state at a point of the log: its
// deals, what the rules and robots keep of them, and their timers, as the
// engine encodes them. The engine reads it only when Format and Digest
// are those it would write (its layout, the regulations in force).
type EngineSnapshot struct {
	Seq    int64  // the log's seq the state reflects
	Format string // the engine's layout of Data
	Digest string // the regulations the state was made under
	Data   []byte
}

// ActiveDeals counts the deals open at some moment of a period, in all
// and per responsible.
type ActiveDeals struct {
	Total         int
	ByResponsible map[string]int
}
