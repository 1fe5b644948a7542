package funnelwatch

import "time"

// DealStatus is whether a deal is still being worked.
type DealStatus string

// Deal statuses; won and lost follow the type of the stage the deal is on.
const (
	DealOpen DealStatus = "open"
	DealWon  DealStatus = "won"
	DealLost DealStatus = "lost"
)

// Deal is the current state of a deal: the fold of its events.
type Deal struct {
	ID                string         `json:"id"`
	Pipeline          string         `json:"pipeline"`
	Stage             string         `json:"stage"`
	Status            DealStatus     `json:"status"`
	Name              string         `json:"name,omitempty"`
	Responsible       string         `json:"responsible,omitempty"`
	ContactID         string         `json:"contact_id,omitempty"`
	Amount            float64        `json:"amount"`
	Source            string         `json:"source,omitempty"`
	Fields            map[string]any `json:"fields,omitempty"`
	LossReason        string         `json:"loss_reason,omitempty"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"` // see LastEventAt
	StageEnteredAt    time.Time      `json:"stage_entered_at"`
	PipelineEnteredAt time.Time      `json:"pipeline_entered_at"`
	ClosedAt          *time.Time     `json:"closed_at"`
	DeletedAt         *time.Time     `json:"deleted_at,omitempty"`
	// UpdatedAt is when the deal itself last changed (created, moved,
	// reassigned, edited, deleted); tasks, calls and notes do not count.
	// LastEventAt is the time of the latest event of any kind about the
	// deal; an event older than it arrives out of order.
	LastEventAt time.Time `json:"last_event_at"`
}

// Open reports whether the deal is in the funnel and not closed.
func (d *Deal) Open() bool { return d.Status == DealOpen && d.DeletedAt == nil }

// Task kinds.
const (
	TaskCall     = "call"
	TaskMeeting  = "meeting"
	TaskFollowUp = "follow-up"
	TaskControl  = "control"
)

// Task is the current state of a task: the fold of its events.
type Task struct {
	ID          string     `json:"id"`
	DealID      string     `json:"deal_id"`
	Assignee    string     `json:"assignee,omitempty"`
	Kind        string     `json:"kind,omitempty"`
	Text        string     `json:"text,omitempty"`
	Due         *time.Time `json:"due"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by,omitempty"` // user id, or "rule:ID" for tasks set by the regulations
	CompletedAt *time.Time `json:"completed_at"`
	Result      string     `json:"result,omitempty"`
	Deleted     bool       `json:"deleted,omitempty"` // closed by task.deleted rather than completed
	Reschedules int        `json:"reschedules"`
}

// Open reports whether the task still waits to be done.
func (t *Task) Open() bool { return t.CompletedAt == nil }

// Call is a phone call, linked to a deal when one is known.
type Call struct {
	ID           string    `json:"id"`
	User         string    `json:"user,omitempty"`
	DealID       string    `json:"deal_id,omitempty"`
	Direction    string    `json:"direction"`
	Phone        string    `json:"phone,omitempty"` // E.164 when it could be normalised
	StartedAt    time.Time `json:"started_at"`
	DurationS    int       `json:"duration_s"`
	Answered     bool      `json:"answered"`
	RecordingURL string    `json:"recording_url,omitempty"`
}

// Note is a comment left on a deal.
type Note struct {
	ID     string    `json:"id"`
	DealID string    `json:"deal_id"`
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// Contact is a client, deduplicated by normalised phone.
type Contact struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	Phones []string `json:"phones,omitempty"`
	Emails []string `json:"emails,omitempty"`
}
