package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// deal is one deal's story as it is written: its events in time order
// and the state they leave, which the story reads to decide what next.
// Events after the end of history, or after the deal was swept up in the
// mass closing, are dropped, so every story is a valid prefix of itself.
type deal struct {
	g  *gen
	r  *rand.Rand
	id string

	pipeline, stage, resp string
	open                  bool
	client                client
	lead                  lead
	amount                float64
	enteredPipeline       time.Time

	t      time.Time // time of the last event written
	events []funnelwatch.Event
	cut    bool // the story went past the end (or the mass closing); nothing more is written
	massed bool // cut by the mass closing: closed by it afterwards

	reopened bool // the head of sales has reopened it once already
}

// task is a task of the deal as the story knows it.
type task struct {
	id, assignee string
	due          time.Time
	open         bool
}

// emit writes e unless the story is over.
func (d *deal) emit(e funnelwatch.Event) bool {
	if d.cut {
		return false
	}
	if e.At.Before(d.t) {
		e.At = d.t
	}
	if m := d.g.mass; !m.at.IsZero() && !e.At.Before(m.at) && d.open && d.pipeline == "sales" && d.resp == m.user {
		d.cut, d.massed = true, true
		return false
	}
	if e.At.After(d.g.end) {
		d.cut = true
		return false
	}
	if e.Call != nil {
		e.Call.StartedAt = e.At
	}
	d.t = e.At
	d.events = append(d.events, e)
	return true
}

// stageType returns the type of a stage: every pipeline of
// regulations.yaml names its closing stages won (or sent) and lost.
func stageType(stage string) funnelwatch.StageType {
	switch stage {
	case "won", "sent":
		return funnelwatch.StageWon
	case "lost":
		return funnelwatch.StageLost
	}
	return funnelwatch.StageOpen
}

func (d *deal) create(at time.Time, actor, pipeline, stage, resp, source string, fields map[string]any) bool {
	p := &funnelwatch.DealPayload{ID: d.id, Pipeline: pipeline, Stage: stage, Responsible: resp,
		Amount: d.amount, Source: source, Name: d.lead.title(), Fields: fields}
	if d.client.name != "" || d.client.phone != "" || d.client.email != "" {
		p.Contact = &funnelwatch.ContactInfo{Name: d.client.name, Phone: d.client.phone, Email: d.client.email}
	}
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventDealCreated, At: at, Actor: actor, Deal: p}) {
		return false
	}
	d.pipeline, d.stage, d.resp, d.open = pipeline, stage, resp, true
	d.enteredPipeline = at
	return true
}

// move changes the stage; to is a stage of the current pipeline or, when
// the pipeline changes, "pipeline/stage".
func (d *deal) move(at time.Time, actor, pipeline, stage, reason string) bool {
	to := stage
	if pipeline != d.pipeline {
		to = pipeline + "/" + stage
	}
	e := funnelwatch.Event{Type: funnelwatch.EventDealStageChanged, At: at, Actor: actor, DealID: d.id, ToStage: to}
	typ := stageType(stage)
	if typ == funnelwatch.StageLost {
		e.LossReason = reason
	}
	if !d.emit(e) {
		return false
	}
	if pipeline != d.pipeline {
		d.enteredPipeline = at
	}
	d.pipeline, d.stage, d.open = pipeline, stage, typ == funnelwatch.StageOpen
	return true
}

func (d *deal) update(at time.Time, actor string, amount *float64, fields map[string]any) bool {
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventDealUpdated, At: at, Actor: actor, DealID: d.id,
		Amount: amount, Fields: fields}) {
		return false
	}
	if amount != nil {
		d.amount = *amount
	}
	return true
}

func (d *deal) assign(at time.Time, actor, to string) bool {
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventDealResponsibleChanged, At: at, Actor: actor, DealID: d.id, To: to}) {
		return false
	}
	d.resp = to
	return true
}

func (d *deal) remove(at time.Time, actor string) bool {
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventDealDeleted, At: at, Actor: actor, DealID: d.id}) {
		return false
	}
	d.open = false
	d.cut = true // nothing happens to a deleted deal
	return true
}

// setTask creates a task; nil when the story is over.
func (d *deal) setTask(at time.Time, actor, assignee, text, kind string, due time.Time) *task {
	if at.Before(d.t) { // the story moved on meanwhile: keep the task's span
		due, at = due.Add(d.t.Sub(at)), d.t
	}
	id := d.g.nextID('T')
	due = due.Truncate(time.Second)
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventTaskCreated, At: at, Actor: actor,
		Task: &funnelwatch.TaskPayload{ID: id, DealID: d.id, Assignee: assignee, Due: &due, Text: text, Kind: kind}}) {
		return nil
	}
	return &task{id: id, assignee: assignee, due: due, open: true}
}

func (d *deal) complete(at time.Time, actor string, tk *task, result string) bool {
	if tk == nil || !tk.open {
		return false
	}
	result = d.g.say(actor, result)
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventTaskCompleted, At: at, Actor: actor, TaskID: tk.id, Result: result}) {
		return false
	}
	tk.open = false
	return true
}

func (d *deal) deleteTask(at time.Time, actor string, tk *task) bool {
	if tk == nil || !tk.open {
		return false
	}
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventTaskDeleted, At: at, Actor: actor, TaskID: tk.id}) {
		return false
	}
	tk.open = false
	return true
}

func (d *deal) reschedule(at time.Time, actor string, tk *task, due time.Time) bool {
	due = due.Truncate(time.Second)
	if !d.emit(funnelwatch.Event{Type: funnelwatch.EventTaskRescheduled, At: at, Actor: actor, TaskID: tk.id, Due: &due}) {
		return false
	}
	tk.due = due
	return true
}

// call records a call with the deal's client; user may be "" (the IVR).
func (d *deal) call(at time.Time, user, direction string, durationS int, answered bool) bool {
	id := d.g.nextID('C')
	c := &funnelwatch.CallPayload{ID: id, User: user, Direction: direction, Phone: d.client.e164,
		DurationS: durationS, Answered: answered, DealID: d.id}
	if answered && durationS > 0 {
		c.RecordingURL = fmt.Sprintf("https://telephony.example.com/zolotarev/records/%s.mp3", id)
	}
	return d.emit(funnelwatch.Event{Type: funnelwatch.EventCall, At: at, Actor: user, Call: c})
}

// talk is an answered call of a realistic length, mostly 20 s to 5 min.
func (d *deal) talk(at time.Time, user, direction string) bool {
	s := int(lognormal(d.r, 1.6, 1.9).Seconds())
	return d.call(at, user, direction, min(max(s, 12), 1500), true)
}

// noAnswer is an outgoing call nobody picked up.
func (d *deal) noAnswer(at time.Time, user string) bool {
	return d.call(at, user, funnelwatch.DirectionOut, 0, false)
}

func (d *deal) note(at time.Time, author, text string) bool {
	return d.emit(funnelwatch.Event{Type: funnelwatch.EventNoteAdded, At: at, Actor: author,
		Note: &funnelwatch.NotePayload{ID: d.g.nextID('N'), DealID: d.id, Author: author, Text: d.g.say(author, text)}})
}

// comment writes a note after a talk: meaningful, or «Связался» as the
// author's habits go.
func (d *deal) comment(at time.Time, p *person, text string) bool {
	if chance(d.r, p.h.emptyNote) {
		text = pick(d.r, emptyNotes)
	}
	return d.note(at, p.id, text)
}
