package engine

import (
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

func invalid(format string, args ...any) error {
	return funnelwatch.Errorf(funnelwatch.EINVALID, format, args...)
}

// check validates the event's references against the funnel and the
// current state, and resolves the deal it is about into e.DealID.
func (b *batch) check(e *funnelwatch.Event) error {
	user := func(key, id string) error {
		if id == "" {
			return nil
		}
		if _, ok := b.f.User(id); !ok {
			return invalid("unknown user %q in %s", id, key)
		}
		return nil
	}
	// liveDeal loads the deal an event refers to and checks that it is
	// in the funnel and that the event does not predate it.
	liveDeal := func(key, id string) (*Aggregate, error) {
		a, err := b.aggregate(id)
		if err != nil {
			return nil, err
		}
		if a == nil || a.Deal == nil {
			return nil, invalid("unknown deal %q in %s", id, key)
		}
		if a.Deal.DeletedAt != nil {
			return nil, invalid("deal %q was deleted", id)
		}
		if e.At.Before(a.Deal.CreatedAt) {
			return nil, invalid("bad time: at %s is before deal %q was created (%s)",
				e.At.Format(time.RFC3339), id, a.Deal.CreatedAt.Format(time.RFC3339))
		}
		e.DealID = id
		return a, nil
	}
	liveTask := func() (*funnelwatch.Task, error) {
		a, err := b.taskAggregate(e.TaskID)
		if err != nil {
			return nil, err
		}
		if a == nil || a.Tasks.Get(e.TaskID) == nil {
			return nil, invalid("unknown task %q in task_id", e.TaskID)
		}
		if _, err := liveDeal("task "+e.TaskID, a.Deal.ID); err != nil {
			return nil, err
		}
		t := a.Tasks.Get(e.TaskID)
		if t.CompletedAt != nil {
			return nil, invalid("task %q is already closed", e.TaskID)
		}
		if e.At.Before(t.CreatedAt) {
			return nil, invalid("bad time: at is before task %q was created", e.TaskID)
		}
		return t, nil
	}

	switch e.Type {
	case funnelwatch.EventDealCreated:
		dp := *e.Deal // normalised below; the caller's payload stays as given
		p := &dp
		e.Deal = p
		pl, ok := b.f.Pipeline(p.Pipeline)
		if !ok {
			return invalid("unknown pipeline %q in deal.pipeline", p.Pipeline)
		}
		if p.Stage != "" {
			if _, ok := b.f.ResolveStage(pl.ID, p.Stage); !ok {
				return invalid("unknown stage %q in deal.stage (pipeline %q)", p.Stage, pl.ID)
			}
			// A qualified ref must stay in the deal's own pipeline.
			if pid, sid, ok := strings.Cut(p.Stage, "/"); ok {
				if pid != pl.ID {
					return invalid("deal.stage %q is not in pipeline %q", p.Stage, pl.ID)
				}
				p.Stage = sid
			}
		} else if _, ok := pl.FirstOpen(); !ok {
			return invalid("pipeline %q has no open stage for a new deal", pl.ID)
		}
		if err := user("deal.responsible", p.Responsible); err != nil {
			return err
		}
		a, err := b.aggregate(p.ID)
		if err != nil {
			return err
		}
		if a != nil && a.Deal != nil {
			return invalid("deal %q already exists", p.ID)
		}
		e.DealID = p.ID
	case funnelwatch.EventDealStageChanged:
		a, err := liveDeal("deal_id", e.DealID)
		if err != nil {
			return err
		}
		if _, ok := b.f.ResolveStage(a.Deal.Pipeline, e.ToStage); !ok {
			return invalid("unknown stage %q in to_stage (deal %q is in pipeline %q)", e.ToStage, e.DealID, a.Deal.Pipeline)
		}
	case funnelwatch.EventDealUpdated, funnelwatch.EventDealDeleted:
		if _, err := liveDeal("deal_id", e.DealID); err != nil {
			return err
		}
	case funnelwatch.EventDealResponsibleChanged:
		if _, err := liveDeal("deal_id", e.DealID); err != nil {
			return err
		}
		if _, ok := b.f.User(e.To); !ok {
			return invalid("unknown user %q in to", e.To)
		}
	case funnelwatch.EventTaskCreated:
		if _, err := liveDeal("task.deal_id", e.Task.DealID); err != nil {
			return err
		}
		if err := user("task.assignee", e.Task.Assignee); err != nil {
			return err
		}
		if a, err := b.taskAggregate(e.Task.ID); err != nil {
			return err
		} else if a != nil {
			return invalid("task %q already exists", e.Task.ID)
		}
	case funnelwatch.EventTaskCompleted, funnelwatch.EventTaskDeleted, funnelwatch.EventTaskRescheduled:
		if _, err := liveTask(); err != nil {
			return err
		}
	case funnelwatch.EventCall:
		c := e.Call
		if err := user("call.user", c.User); err != nil {
			return err
		}
		if c.DealID != "" {
			if _, err := liveDeal("call.deal_id", c.DealID); err != nil {
				return err
			}
		}
	case funnelwatch.EventNoteAdded:
		if _, err := liveDeal("note.deal_id", e.Note.DealID); err != nil {
			return err
		}
		if err := user("note.author", e.Note.Author); err != nil {
			return err
		}
	}
	return nil
}
