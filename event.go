package funnelwatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EventType names what happened. The set is the ingest contract (DESIGN §4.1).
type EventType string

// Event types.
const (
	EventDealCreated            EventType = "deal.created"
	EventDealStageChanged       EventType = "deal.stage_changed"
	EventDealUpdated            EventType = "deal.updated"
	EventDealResponsibleChanged EventType = "deal.responsible_changed"
	EventDealDeleted            EventType = "deal.deleted"
	EventTaskCreated            EventType = "task.created"
	EventTaskCompleted          EventType = "task.completed"
	EventTaskRescheduled        EventType = "task.rescheduled"
	EventTaskDeleted            EventType = "task.deleted"
	EventCall                   EventType = "call"
	EventNoteAdded              EventType = "note.added"
)

// EventTypes lists every event type in the contract.
var EventTypes = []EventType{
	EventDealCreated, EventDealStageChanged, EventDealUpdated, EventDealResponsibleChanged,
	EventDealDeleted, EventTaskCreated, EventTaskCompleted, EventTaskRescheduled,
	EventTaskDeleted, EventCall, EventNoteAdded,
}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one entry of the append-only log. Only the payload fields of its
// type are set. Seq orders events by arrival within a workspace.
type Event struct {
	Seq        int64     `json:"seq,omitempty"`
	ID         string    `json:"id"`
	Type       EventType `json:"type"`
	At         time.Time `json:"at"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	Actor      string    `json:"actor,omitempty"`

	Deal *DealPayload `json:"deal,omitempty"` // deal.created

	DealID     string         `json:"deal_id,omitempty"`
	ToStage    string         `json:"to_stage,omitempty"`    // deal.stage_changed
	LossReason string         `json:"loss_reason,omitempty"` // deal.stage_changed to a lost stage
	Amount     *float64       `json:"amount,omitempty"`      // deal.updated
	Fields     map[string]any `json:"fields,omitempty"`      // deal.updated
	To         string         `json:"to,omitempty"`          // deal.responsible_changed

	Task   *TaskPayload `json:"task,omitempty"` // task.created
	TaskID string       `json:"task_id,omitempty"`
	Result string       `json:"result,omitempty"` // task.completed
	Due    *time.Time   `json:"due,omitempty"`    // task.rescheduled

	Call *CallPayload `json:"call,omitempty"`
	Note *NotePayload `json:"note,omitempty"`

	// Raw is the event as received, when it came as JSON; the log keeps
	// it verbatim rather than a re-encoding.
	Raw json.RawMessage `json:"-"`
}

// DealPayload is the deal of a deal.created event.
type DealPayload struct {
	ID          string         `json:"id"`
	Pipeline    string         `json:"pipeline"`
	Stage       string         `json:"stage,omitempty"`
	Responsible string         `json:"responsible,omitempty"`
	Amount      float64        `json:"amount,omitempty"`
	Source      string         `json:"source,omitempty"`
	Name        string         `json:"name,omitempty"`
	Contact     *ContactInfo   `json:"contact,omitempty"`
	Fields      map[string]any `json:"fields,omitempty"`
}

// ContactInfo is the contact given with a new deal.
type ContactInfo struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// TaskPayload is the task of a task.created event.
type TaskPayload struct {
	ID       string     `json:"id"`
	DealID   string     `json:"deal_id"`
	Assignee string     `json:"assignee,omitempty"`
	Due      *time.Time `json:"due,omitempty"`
	Text     string     `json:"text,omitempty"`
	Kind     string     `json:"kind,omitempty"`
}

// CallPayload is the call of a call event.
type CallPayload struct {
	ID           string    `json:"id"`
	User         string    `json:"user,omitempty"`
	Direction    string    `json:"direction"`
	Phone        string    `json:"phone,omitempty"`
	StartedAt    time.Time `json:"started_at,omitzero"`
	DurationS    int       `json:"duration_s"`
	Answered     bool      `json:"answered"`
	DealID       string    `json:"deal_id,omitempty"`
	RecordingURL string    `json:"recording_url,omitempty"`
}

// NotePayload is the note of a note.added event.
type NotePayload struct {
	ID     string `json:"id"`
	DealID string `json:"deal_id"`
	Author string `json:"author,omitempty"`
	Text   string `json:"text"`
}

// Call directions.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// DecodeEvent parses one event of the ingest contract and checks that it is
// well formed: known type, an id, a valid time, the payload its type needs,
// with the right JSON types. References to pipelines, stages, users and
// deals are checked later, against the funnel and the store. The error is
// an *Error with code EINVALID whose message is the rejection reason.
func DecodeEvent(data []byte) (Event, error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return Event{}, Errorf(EINVALID, "%s", jsonReason(err))
	}
	e, err := w.event()
	if err != nil {
		return Event{}, err
	}
	if err := e.check(); err != nil {
		return Event{}, err
	}
	e.Raw = compact(data)
	return e, nil
}

// wireEvent mirrors Event with times as strings, so that a bad time gets a
// reason of its own rather than a generic JSON error.
type wireEvent struct {
	ID         *string        `json:"id"`
	Type       *string        `json:"type"`
	At         *string        `json:"at"`
	Actor      string         `json:"actor"`
	Deal       *wireDeal      `json:"deal"`
	DealID     string         `json:"deal_id"`
	ToStage    string         `json:"to_stage"`
	LossReason string         `json:"loss_reason"`
	Amount     *float64       `json:"amount"`
	Fields     map[string]any `json:"fields"`
	To         string         `json:"to"`
	Task       *wireTask      `json:"task"`
	TaskID     string         `json:"task_id"`
	Result     string         `json:"result"`
	Due        *string        `json:"due"`
	Call       *wireCall      `json:"call"`
	Note       *NotePayload   `json:"note"`
}

type wireDeal struct {
	ID          string         `json:"id"`
	Pipeline    string         `json:"pipeline"`
	Stage       string         `json:"stage"`
	Responsible string         `json:"responsible"`
	Amount      *float64       `json:"amount"`
	Source      string         `json:"source"`
	Name        string         `json:"name"`
	Contact     *ContactInfo   `json:"contact"`
	Fields      map[string]any `json:"fields"`
}

type wireTask struct {
	ID       string  `json:"id"`
	DealID   string  `json:"deal_id"`
	Assignee string  `json:"assignee"`
	Due      *string `json:"due"`
	Text     string  `json:"text"`
	Kind     string  `json:"kind"`
}

type wireCall struct {
	ID           string  `json:"id"`
	User         string  `json:"user"`
	Direction    string  `json:"direction"`
	Phone        string  `json:"phone"`
	StartedAt    *string `json:"started_at"`
	DurationS    *int    `json:"duration_s"`
	Answered     *bool   `json:"answered"`
	DealID       string  `json:"deal_id"`
	RecordingURL string  `json:"recording_url"`
}

func (w *wireEvent) event() (Event, error) {
	if w.ID == nil || strings.TrimSpace(*w.ID) == "" {
		return Event{}, Errorf(EINVALID, "missing field: id")
	}
	if w.Type == nil || *w.Type == "" {
		return Event{}, Errorf(EINVALID, "missing field: type")
	}
	if w.At == nil || *w.At == "" {
		return Event{}, Errorf(EINVALID, "missing field: at")
	}
	e := Event{
		ID: *w.ID, Type: EventType(*w.Type), Actor: w.Actor,
		DealID: w.DealID, ToStage: w.ToStage, LossReason: w.LossReason,
		Amount: w.Amount, Fields: w.Fields, To: w.To,
		TaskID: w.TaskID, Result: w.Result, Note: w.Note,
	}
	if !e.Type.Valid() {
		return Event{}, Errorf(EINVALID, "unknown event type %q", *w.Type)
	}
	var err error
	if e.At, err = parseTime("at", *w.At); err != nil {
		return Event{}, err
	}
	if w.Due != nil {
		t, err := parseTime("due", *w.Due)
		if err != nil {
			return Event{}, err
		}
		e.Due = &t
	}
	if d := w.Deal; d != nil {
		e.Deal = &DealPayload{ID: d.ID, Pipeline: d.Pipeline, Stage: d.Stage, Responsible: d.Responsible,
			Source: d.Source, Name: d.Name, Contact: d.Contact, Fields: d.Fields}
		if d.Amount != nil {
			e.Deal.Amount = *d.Amount
		}
	}
	if t := w.Task; t != nil {
		e.Task = &TaskPayload{ID: t.ID, DealID: t.DealID, Assignee: t.Assignee, Text: t.Text, Kind: t.Kind}
		if t.Due != nil && *t.Due != "" {
			due, err := parseTime("task.due", *t.Due)
			if err != nil {
				return Event{}, err
			}
			e.Task.Due = &due
		}
	}
	if c := w.Call; c != nil {
		e.Call = &CallPayload{ID: c.ID, User: c.User, Direction: c.Direction, Phone: c.Phone,
			DealID: c.DealID, RecordingURL: c.RecordingURL}
		if c.StartedAt != nil && *c.StartedAt != "" {
			if e.Call.StartedAt, err = parseTime("call.started_at", *c.StartedAt); err != nil {
				return Event{}, err
			}
		} else {
			e.Call.StartedAt = e.At
		}
		if c.DurationS != nil {
			e.Call.DurationS = *c.DurationS
		}
		if c.Answered != nil {
			e.Call.Answered = *c.Answered
		} else {
			e.Call.Answered = e.Call.DurationS > 0
		}
	}
	return e, nil
}

// Times outside these bounds are absurd for a CRM event.
var (
	minEventTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "bad time in %s: %q is not RFC 3339 (e.g. 2026-11-02T10:00:00+03:00)", field, s)
	}
	if t.Before(minEventTime) || !t.Before(maxEventTime) {
		return time.Time{}, Errorf(EINVALID, "bad time in %s: %s is out of range (2000–2099)", field, s)
	}
	return t, nil
}

// check verifies that the payload the type needs is present and sane.
func (e *Event) check() error {
	missing := func(f string) error { return Errorf(EINVALID, "missing field: %s", f) }
	switch e.Type {
	case EventDealCreated:
		switch {
		case e.Deal == nil:
			return missing("deal")
		case e.Deal.ID == "":
			return missing("deal.id")
		case e.Deal.Pipeline == "":
			return missing("deal.pipeline")
		case e.Deal.Amount < 0:
			return Errorf(EINVALID, "bad value: deal.amount is negative")
		}
	case EventDealStageChanged:
		if e.DealID == "" {
			return missing("deal_id")
		}
		if e.ToStage == "" {
			return missing("to_stage")
		}
	case EventDealUpdated:
		if e.DealID == "" {
			return missing("deal_id")
		}
		if e.Amount != nil && *e.Amount < 0 {
			return Errorf(EINVALID, "bad value: amount is negative")
		}
	case EventDealResponsibleChanged:
		if e.DealID == "" {
			return missing("deal_id")
		}
		if e.To == "" {
			return missing("to")
		}
	case EventDealDeleted:
		if e.DealID == "" {
			return missing("deal_id")
		}
	case EventTaskCreated:
		switch {
		case e.Task == nil:
			return missing("task")
		case e.Task.ID == "":
			return missing("task.id")
		case e.Task.DealID == "":
			return missing("task.deal_id")
		}
	case EventTaskCompleted, EventTaskDeleted:
		if e.TaskID == "" {
			return missing("task_id")
		}
	case EventTaskRescheduled:
		if e.TaskID == "" {
			return missing("task_id")
		}
		if e.Due == nil {
			return missing("due")
		}
	case EventCall:
		switch {
		case e.Call == nil:
			return missing("call")
		case e.Call.ID == "":
			return missing("call.id")
		case e.Call.Direction != DirectionIn && e.Call.Direction != DirectionOut:
			return Errorf(EINVALID, "bad value: call.direction must be \"in\" or \"out\", not %q", e.Call.Direction)
		case e.Call.DurationS < 0:
			return Errorf(EINVALID, "bad value: call.duration_s is negative")
		}
	case EventNoteAdded:
		switch {
		case e.Note == nil:
			return missing("note")
		case e.Note.ID == "":
			return missing("note.id")
		case e.Note.DealID == "":
			return missing("note.deal_id")
		}
	}
	return nil
}

// DealRef returns the deal the event is about as written in the event, or
// "" when only the task it names can tell (task.completed and the like).
func (e *Event) DealRef() string {
	switch {
	case e.Deal != nil:
		return e.Deal.ID
	case e.Task != nil:
		return e.Task.DealID
	case e.Call != nil:
		return e.Call.DealID
	case e.Note != nil:
		return e.Note.DealID
	}
	return e.DealID
}

// compact returns data without insignificant white space (a copy).
func compact(data []byte) json.RawMessage {
	if bytes.IndexAny(data, "\n\r\t") < 0 {
		return bytes.Clone(data)
	}
	var b bytes.Buffer
	b.Grow(len(data))
	if err := json.Compact(&b, data); err != nil {
		return bytes.Clone(data)
	}
	return b.Bytes()
}

// jsonReason turns a JSON decoding error into a rejection reason.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "event"
		}
		return fmt.Sprintf("wrong type: %s is a JSON %s, expected %s", field, te.Value, goTypeName(te.Type.String()))
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	}
	return "malformed JSON: " + err.Error()
}

func goTypeName(t string) string {
	switch strings.TrimPrefix(t, "*") {
	case "string":
		return "a string"
	case "float64", "int":
		return "a number"
	case "bool":
		return "true or false"
	case "map[string]interface {}":
		return "an object"
	}
	if strings.Contains(t, "funnelwatch.") {
		return "an object"
	}
	return t
}
