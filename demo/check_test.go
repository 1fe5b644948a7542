package demo

import (
	"fmt"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/phone"
)

// replay is a small, independent model of the log: it checks every
// reference as an ingest would (DESIGN §4.1, §5) and keeps what the habit
// measurements need.
type replay struct {
	f          *funnelwatch.Funnel
	start, end time.Time

	deals  map[string]*rDeal
	order  []string // deal ids in creation order
	tasks  map[string]*rTask
	byDeal map[string][]*rTask // open tasks by deal
	calls  []rCall
	notes  []rNote
	losses []rLoss

	backward   int
	readyNoAmt int // moves to «Готов к выдаче» with no amount
	junkFields int
	chains     int // tasks rescheduled a third time with no call on the deal since they were set
}

type rDeal struct {
	id, pipeline, stage, resp string
	amount                    float64
	created, stageAt          time.Time
	deleted                   bool
	typ                       funnelwatch.StageType
}

type rTask struct {
	id, deal, assignee string
	due                time.Time
	created            time.Time
	done               *time.Time
	reschedules        int
	calledSince        bool // a call on the deal since the task was created
}

type rCall struct {
	at        time.Time
	user, dir string
	key       string // phone in E.164
	answered  bool
	duration  int
}

type rNote struct {
	author, text string
}

type rLoss struct {
	deal, actor, pipeline, reason string
	at                            time.Time
}

func newReplay(f *funnelwatch.Funnel, start, end time.Time) *replay {
	return &replay{f: f, start: start, end: end, deals: map[string]*rDeal{}, tasks: map[string]*rTask{},
		byDeal: map[string][]*rTask{}}
}

// apply checks one event and folds it; the error says what is wrong.
func (x *replay) apply(e *funnelwatch.Event) error {
	if e.At.Before(x.start) || e.At.After(x.end) {
		return fmt.Errorf("at %s is outside [%s, %s]", e.At, x.start, x.end)
	}
	if e.At.Location().String() != Timezone {
		return fmt.Errorf("at %s is not in %s", e.At, Timezone)
	}
	user := func(what, id string, empty bool) error {
		if id == "" && empty {
			return nil
		}
		if _, ok := x.f.User(id); !ok {
			return fmt.Errorf("unknown user %q in %s", id, what)
		}
		return nil
	}
	deal := func(id string) (*rDeal, error) {
		d := x.deals[id]
		switch {
		case d == nil:
			return nil, fmt.Errorf("deal %q does not exist (yet)", id)
		case d.deleted:
			return nil, fmt.Errorf("deal %q was deleted", id)
		case e.At.Before(d.created):
			return nil, fmt.Errorf("deal %q is created later", id)
		}
		return d, nil
	}
	openTask := func(id string) (*rTask, error) {
		t := x.tasks[id]
		switch {
		case t == nil:
			return nil, fmt.Errorf("task %q does not exist (yet)", id)
		case t.done != nil:
			return nil, fmt.Errorf("task %q is already closed", id)
		case e.At.Before(t.created):
			return nil, fmt.Errorf("task %q is created later", id)
		}
		_, err := deal(t.deal)
		return t, err
	}
	if err := user("actor", e.Actor, true); err != nil {
		return err
	}
	switch e.Type {
	case funnelwatch.EventDealCreated:
		p := e.Deal
		if x.deals[p.ID] != nil {
			return fmt.Errorf("deal %q created twice", p.ID)
		}
		if strings.Contains(p.Stage, "/") {
			return fmt.Errorf("deal.stage %q is qualified", p.Stage)
		}
		s, ok := x.f.ResolveStage(p.Pipeline, p.Stage)
		if !ok {
			return fmt.Errorf("unknown stage %s/%s", p.Pipeline, p.Stage)
		}
		if err := user("deal.responsible", p.Responsible, p.Pipeline == "couriers"); err != nil {
			return err
		}
		if p.Contact != nil && p.Contact.Phone != "" && !strings.HasPrefix(phone.Key(p.Contact.Phone), "+79") {
			return fmt.Errorf("contact phone %q is not a Russian mobile", p.Contact.Phone)
		}
		x.deals[p.ID] = &rDeal{id: p.ID, pipeline: p.Pipeline, stage: p.Stage, resp: p.Responsible,
			amount: p.Amount, created: e.At, stageAt: e.At, typ: s.Type}
		x.order = append(x.order, p.ID)
		x.junk(p.Fields)
	case funnelwatch.EventDealStageChanged:
		d, err := deal(e.DealID)
		if err != nil {
			return err
		}
		from, _ := x.f.ResolveStage(d.pipeline, d.stage)
		pid, sid, qualified := strings.Cut(e.ToStage, "/")
		if !qualified {
			pid, sid = d.pipeline, e.ToStage
		} else if pid == d.pipeline {
			return fmt.Errorf("to_stage %q is qualified within the deal's pipeline", e.ToStage)
		}
		to, ok := x.f.ResolveStage(d.pipeline, e.ToStage)
		if !ok {
			return fmt.Errorf("unknown stage %q (deal in %s)", e.ToStage, d.pipeline)
		}
		if to.Pipeline == d.pipeline && to.ID == d.stage {
			return fmt.Errorf("move of %s to the stage it is on", d.id)
		}
		if to.Pipeline == from.Pipeline && to.Type == funnelwatch.StageOpen &&
			(from.Type.Closed() || to.Order < from.Order) {
			x.backward++
		}
		if to.Type == funnelwatch.StageLost {
			x.losses = append(x.losses, rLoss{deal: d.id, actor: e.Actor, pipeline: pid, reason: e.LossReason, at: e.At})
		} else if e.LossReason != "" {
			return fmt.Errorf("loss_reason on a move to %s", e.ToStage)
		}
		if pid == "sales" && sid == "ready" && d.amount == 0 {
			x.readyNoAmt++
		}
		d.pipeline, d.stage, d.stageAt, d.typ = pid, sid, e.At, to.Type
	case funnelwatch.EventDealUpdated:
		d, err := deal(e.DealID)
		if err != nil {
			return err
		}
		if e.Amount != nil {
			d.amount = *e.Amount
		}
		x.junk(e.Fields)
	case funnelwatch.EventDealResponsibleChanged:
		d, err := deal(e.DealID)
		if err != nil {
			return err
		}
		if err := user("to", e.To, false); err != nil {
			return err
		}
		d.resp = e.To
	case funnelwatch.EventDealDeleted:
		d, err := deal(e.DealID)
		if err != nil {
			return err
		}
		d.deleted = true
	case funnelwatch.EventTaskCreated:
		tp := e.Task
		if _, err := deal(tp.DealID); err != nil {
			return err
		}
		if x.tasks[tp.ID] != nil {
			return fmt.Errorf("task %q created twice", tp.ID)
		}
		if err := user("task.assignee", tp.Assignee, false); err != nil {
			return err
		}
		if tp.Due == nil || tp.Due.Before(e.At) {
			return fmt.Errorf("task %q has no due time or one in the past", tp.ID)
		}
		t := &rTask{id: tp.ID, deal: tp.DealID, assignee: tp.Assignee, due: *tp.Due, created: e.At}
		x.tasks[tp.ID] = t
		x.byDeal[tp.DealID] = append(x.byDeal[tp.DealID], t)
	case funnelwatch.EventTaskCompleted, funnelwatch.EventTaskDeleted:
		t, err := openTask(e.TaskID)
		if err != nil {
			return err
		}
		at := e.At
		t.done = &at
	case funnelwatch.EventTaskRescheduled:
		t, err := openTask(e.TaskID)
		if err != nil {
			return err
		}
		t.due = *e.Due
		t.reschedules++
		if t.reschedules == 3 && !t.calledSince {
			x.chains++
		}
	case funnelwatch.EventCall:
		c := e.Call
		if err := user("call.user", c.User, true); err != nil {
			return err
		}
		if c.DealID != "" {
			if _, err := deal(c.DealID); err != nil {
				return err
			}
			for _, t := range x.byDeal[c.DealID] {
				if t.done == nil {
					t.calledSince = true
				}
			}
		}
		key := phone.Key(c.Phone)
		if !strings.HasPrefix(key, "+79") {
			return fmt.Errorf("call phone %q is not a Russian mobile", c.Phone)
		}
		if c.Answered != (c.DurationS > 0) {
			return fmt.Errorf("call %s: answered %v with %d s", c.ID, c.Answered, c.DurationS)
		}
		x.calls = append(x.calls, rCall{at: e.At, user: c.User, dir: c.Direction, key: key, answered: c.Answered,
			duration: c.DurationS})
	case funnelwatch.EventNoteAdded:
		if _, err := deal(e.Note.DealID); err != nil {
			return err
		}
		if err := user("note.author", e.Note.Author, true); err != nil {
			return err
		}
		if strings.TrimSpace(e.Note.Text) == "" {
			return fmt.Errorf("note %s is empty", e.Note.ID)
		}
		x.notes = append(x.notes, rNote{author: e.Note.Author, text: e.Note.Text})
	default:
		return fmt.Errorf("unexpected event type %q", e.Type)
	}
	return nil
}

func (x *replay) junk(fields map[string]any) {
	for _, k := range []string{"car", "part"} {
		if s, ok := fields[k].(string); ok {
			for _, j := range junkValues {
				if s == j {
					x.junkFields++
				}
			}
		}
	}
}

// open reports whether the deal is in the funnel and not closed at the end.
func (d *rDeal) open() bool { return !d.deleted && d.typ == funnelwatch.StageOpen }

// overdueAtEnd reports whether the task is open and past due at the end,
// on a deal still worked (a closed deal's tasks no longer count).
func (x *replay) overdueAtEnd(t *rTask) bool {
	return t.done == nil && t.due.Before(x.end) && x.deals[t.deal].open()
}

// everOverdue reports whether the task was done late or is overdue now.
func (x *replay) everOverdue(t *rTask) bool {
	if t.done != nil {
		return t.done.After(t.due)
	}
	return x.overdueAtEnd(t)
}

// hasOpenTask reports whether the deal has an open task at the end.
func (x *replay) openTasks() map[string]bool {
	has := map[string]bool{}
	for _, t := range x.tasks {
		if t.done == nil {
			has[t.deal] = true
		}
	}
	return has
}
