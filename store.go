package funnelwatch

import (
	"context"
	"time"
)

// Store keeps the event log and the state folded from it, scoped by
// workspace. A method is one transaction. Implementations: sqlite and
// postgres (through sqlstore), checked by the storetest conformance suite.
type Store interface {
	// EnsureWorkspace creates the workspace if it does not exist and
	// updates its name if it does.
	EnsureWorkspace(ctx context.Context, id, name string) error
	// Update runs fn in one read-write transaction on the workspace; if
	// fn returns an error nothing of it is kept.
	Update(ctx context.Context, workspace string, fn func(Tx) error) error
	// View runs fn in one read-only transaction on the workspace.
	View(ctx context.Context, workspace string, fn func(ReadTx) error) error
	// Lease makes this process the only one that ingests into the
	// workspace (the engine keeps the workspace's state in memory). It
	// waits until no other process holds it, or until ctx ends; when it
	// returns, the lease is held until release is called or the process
	// dies, so a standby takes over within seconds of a crash.
	Lease(ctx context.Context, workspace string) (release func() error, err error)
	// Close releases the store.
	Close() error
}

// ReadTx reads within one transaction. Not found is an *Error with code
// ENOTFOUND.
type ReadTx interface {
	// Deal returns the deal, deleted or not. Its LastEventAt is as last
	// saved, which may miss task, call and note events; LastEventTimes
	// has the log's answer.
	Deal(ctx context.Context, id string) (*Deal, error)
	// Deals lists deals by the filter, ordered by id.
	Deals(ctx context.Context, f DealFilter) ([]*Deal, error)
	// Task returns the task.
	Task(ctx context.Context, id string) (*Task, error)
	// Tasks lists tasks by the filter, ordered by due time (tasks without
	// one last), then id.
	Tasks(ctx context.Context, f TaskFilter) ([]*Task, error)
	// CountTasks counts the tasks the filter selects (its IDs, DealIDs,
	// Offset and Limit aside).
	CountTasks(ctx context.Context, f TaskFilter) (int, error)
	// Calls lists the deal's calls in time order.
	Calls(ctx context.Context, dealID string) ([]*Call, error)
	// Notes lists the deal's notes in time order.
	Notes(ctx context.Context, dealID string) ([]*Note, error)
	// Contact returns the contact.
	Contact(ctx context.Context, id string) (*Contact, error)
	// LatestDealOfContact returns the most recently created deal of the
	// contact that is not deleted, preferring open deals.
	LatestDealOfContact(ctx context.Context, contactID string) (*Deal, error)
	// Events lists events by the filter in (at, seq) order, or by seq.
	// An event's DealID is the deal it was resolved to at ingest.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// LastEventTimes returns, per deal, the time of its latest event.
	LastEventTimes(ctx context.Context, dealIDs []string) (map[string]time.Time, error)
	// ExistingEventIDs returns which of ids are already in the log.
	ExistingEventIDs(ctx context.Context, ids []string) (map[string]bool, error)
	// StageCounts counts the deals (not deleted) per pipeline and stage.
	StageCounts(ctx context.Context) ([]StageCount, error)
	// DealCounts counts the deals the filter selects (its IDs, Offset,
	// Limit and order aside) and sums their amounts, per pipeline and
	// stage, ordered by pipeline and stage.
	DealCounts(ctx context.Context, f DealFilter) ([]StageCount, error)
	// EventCount returns the number of events in the workspace's log.
	EventCount(ctx context.Context) (int64, error)
	// ProjectionSeq returns the seq up to which the state tables (deals,
	// tasks, calls, notes, contacts) reflect the log (0: never written).
	ProjectionSeq(ctx context.Context) (int64, error)

	// Violations lists findings by the filter, ordered by opening time,
	// then id.
	Violations(ctx context.Context, f ViolationFilter) ([]*Violation, error)
	// CountViolations counts the findings the filter selects (its Offset
	// and Limit ignored).
	CountViolations(ctx context.Context, f ViolationFilter) (int, error)
	// ActiveDeals counts the deals open at some moment of [from, to):
	// created before to, not closed and not deleted before from.
	ActiveDeals(ctx context.Context, from, to time.Time) (ActiveDeals, error)
	// DealsWithoutOpenTask counts the open deals (not deleted) of the
	// responsibles (of everyone when none are given) that have no open
	// task, whoever it is assigned to.
	DealsWithoutOpenTask(ctx context.Context, responsibles []string) (int, error)
	// OverdueTasks counts the open tasks of the assignees (of everyone
	// when none are given) due before now.
	OverdueTasks(ctx context.Context, assignees []string, now time.Time) (int, error)
	// Actions lists outbox actions by the filter, ordered by time, then
	// key (with DueBy: by next attempt, then key).
	Actions(ctx context.Context, f ActionFilter) ([]*ActionRecord, error)
	// ActionCounts counts the outbox's actions by status.
	ActionCounts(ctx context.Context) (map[ActionStatus]int, error)
	// Action returns the action with the idempotency key.
	Action(ctx context.Context, key string) (*ActionRecord, error)
	// EngineState returns the engine's checkpoint (zero when none).
	EngineState(ctx context.Context) (EngineState, error)
	// EngineSnapshot returns the engine's last stored snapshot (a zero
	// Seq and no Data when none).
	EngineSnapshot(ctx context.Context) (EngineSnapshot, error)
	// Notices lists notices by the filter, ordered by time, then action
	// key and target.
	Notices(ctx context.Context, f NoticeFilter) ([]*Notice, error)

	// PasswordHash returns the stored password hash of a user of the
	// regulations file (ENOTFOUND: the user has no password yet). The
	// users themselves are the file's; the store keeps only credentials.
	PasswordHash(ctx context.Context, userID string) (string, error)
	// Session returns the session with the token hash, expired or not
	// (ENOTFOUND when there is none: signed out, or never signed in).
	Session(ctx context.Context, tokenHash string) (*Session, error)
	// Credentials lists, by user id, the users with a password or an
	// open session at now.
	Credentials(ctx context.Context, now time.Time) ([]Credential, error)
	// APITokens lists the issued API tokens, revoked ones too, oldest
	// first.
	APITokens(ctx context.Context) ([]*APIToken, error)
	// APITokenByHash returns the token with the hash, revoked or not
	// (ENOTFOUND when none was issued).
	APITokenByHash(ctx context.Context, hash string) (*APIToken, error)

	// StageVisits lists stage visits by the filter, ordered by deal,
	// entry time, pipeline and stage.
	StageVisits(ctx context.Context, f StageVisitFilter) ([]*StageVisit, error)
	// ClosedDeals lists the deals closed (won or lost) in [from, to),
	// deleted since or not, ordered by closing time, then id. A deal
	// reopened since is open, and not listed.
	ClosedDeals(ctx context.Context, from, to time.Time) ([]*Deal, error)
	// CallStats sums the calls started in [from, to) by user and
	// direction; an answered call of at least minTalk is successful.
	CallStats(ctx context.Context, from, to time.Time, minTalk time.Duration) ([]CallStats, error)
	// MissedCalls lists the incoming calls not answered started in [from,
	// to), in time order, each with the moment it was returned (which may
	// be after to).
	MissedCalls(ctx context.Context, from, to time.Time) ([]MissedCall, error)
	// TaskStats counts, by assignee, the tasks created in [from, to) and
	// those overdue in it: due in [from, end) and not done by their due
	// time (end is to, or the present for a period not over yet).
	TaskStats(ctx context.Context, from, to, end time.Time) ([]TaskStats, error)
	// CardChanges counts, by the user who acted, the distinct deals whose
	// card was changed in [from, to): moved, edited or commented on
	// (deal.stage_changed, deal.updated, note.added).
	CardChanges(ctx context.Context, from, to time.Time) (map[string]int, error)
}

// Tx reads and writes within one transaction.
type Tx interface {
	ReadTx
	// InsertEvent appends e to the log and sets e.Seq, or reports false
	// when an event with the same id is already there (a duplicate).
	InsertEvent(ctx context.Context, e *Event) (bool, error)
	// InsertEvents appends events known not to be in the log yet, in the
	// order given, and returns the seq of the last (their Seq fields are
	// not set); a duplicate among them is an error with code ECONFLICT.
	InsertEvents(ctx context.Context, events []*Event) (int64, error)
	// SaveDeals inserts or replaces the deals' states.
	SaveDeals(ctx context.Context, deals ...*Deal) error
	// SaveDealActivity writes what an event may change of a deal without
	// moving it, reassigning, closing or deleting it — name, amount,
	// source, custom fields, updated and last-event times — for deals
	// already saved. It is SaveDeals made cheap for the common case.
	SaveDealActivity(ctx context.Context, deals ...*Deal) error
	// SaveTasks inserts or replaces the tasks' states.
	SaveTasks(ctx context.Context, tasks ...*Task) error
	// InsertCalls stores calls (a repeated id replaces the call).
	InsertCalls(ctx context.Context, calls ...*Call) error
	// InsertNotes stores notes (a repeated id replaces the note).
	InsertNotes(ctx context.Context, notes ...*Note) error
	// SaveContacts inserts contacts or merges their phones, e-mails and
	// names into the stored ones.
	SaveContacts(ctx context.Context, contacts ...*Contact) error
	// SetProjectionSeq records that the state tables reflect the log up
	// to seq.
	SetProjectionSeq(ctx context.Context, seq int64) error
	// SaveStageVisits writes stage visits, keyed by deal, pipeline, stage
	// and entry time: a visit not stored is added; a stored one gets the
	// given end (Left and the next stage) when the given visit has one.
	// A visit never reopens: a deal coming back is a new visit.
	SaveStageVisits(ctx context.Context, visits ...*StageVisit) error
	// DeleteStageVisits removes every visit of the deals, before their
	// history is written again from a re-fold.
	DeleteStageVisits(ctx context.Context, dealIDs ...string) error

	// SaveViolations inserts findings or updates the stored ones with the
	// same id (resolution, accountable user, evidence, money at risk).
	SaveViolations(ctx context.Context, vs ...*Violation) error
	// InsertActions adds actions to the outbox; an action whose key is
	// already there is left as it is (the idempotency of effects). It
	// returns, by position, whether each was new.
	InsertActions(ctx context.Context, as ...*ActionRecord) ([]bool, error)
	// UpdateAction records a delivery attempt: status, attempts, next
	// attempt, last error and done time of the action with a.Key.
	UpdateAction(ctx context.Context, a *ActionRecord) error
	// SetEngineState records the engine's checkpoint.
	SetEngineState(ctx context.Context, s EngineState) error
	// SetEngineSnapshot replaces the engine's stored snapshot.
	SetEngineSnapshot(ctx context.Context, s EngineSnapshot) error
	// SaveNotices inserts notices or replaces the stored ones of the same
	// action and target.
	SaveNotices(ctx context.Context, ns ...*Notice) error

	// SetPasswordHash sets or replaces the user's password hash.
	SetPasswordHash(ctx context.Context, userID, hash string, at time.Time) error
	// CreateSession stores a new session; a token hash already stored is
	// an error with code ECONFLICT.
	CreateSession(ctx context.Context, s *Session) error
	// DeleteSession ends the session with the token hash (none: no error).
	DeleteSession(ctx context.Context, tokenHash string) error
	// DeleteUserSessions ends every session of the user (a new password
	// signs the old browsers out) and returns how many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteExpiredSessions removes the sessions expired at now and
	// returns how many there were.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	// CreateAPIToken stores an issued token; an id or hash already
	// stored is an error with code ECONFLICT.
	CreateAPIToken(ctx context.Context, t *APIToken) error
	// RevokeAPIToken revokes the token at the time (ENOTFOUND when no
	// token has the id; revoking a revoked token keeps its first time).
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
}

// DealFilter selects deals. Zero fields do not filter.
type DealFilter struct {
	IDs         []string // only these deals
	Pipeline    string
	Stage       string
	Responsible string
	// Responsibles, when not empty, keeps the deals of these users only
	// (a supervisor's team).
	Responsibles []string
	Status       DealStatus
	// IncludeDeleted also lists deals that left the funnel.
	IncludeDeleted bool
	// WithoutOpenTask keeps the deals with no open task (no next step).
	WithoutOpenTask bool
	// LongestOnStage lists the deals that entered their stage first
	// first (stage_entered_at, id), instead of by id: a board's column.
	LongestOnStage bool
	Offset, Limit  int
}

// TaskFilter selects tasks. Zero fields do not filter.
type TaskFilter struct {
	IDs      []string // only these tasks
	DealIDs  []string // only tasks of these deals
	DealID   string
	Assignee string
	// Assignees, when not empty, keeps the tasks of these users only (a
	// supervisor's team).
	Assignees []string
	Open      *bool
	// DueFrom and DueBefore keep the tasks due in [DueFrom, DueBefore)
	// (either may be zero: no bound), listed by due time then id; NoDue
	// the tasks without a due time, listed by assignee then id.
	DueFrom, DueBefore time.Time
	NoDue              bool
	Offset             int
	Limit              int // 0: no limit
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	BySeq    bool // order by seq (arrival) instead of (at, seq)
	DealID   string
	AfterSeq int64
	From, To time.Time // event time, from inclusive, to exclusive
	Limit    int
}

// StageCount is the number of deals on a stage and their amount.
type StageCount struct {
	Pipeline string
	Stage    string
	Deals    int
	Amount   float64
}
