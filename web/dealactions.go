package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/ru"
)

// What a user does on a deal card — completes a task, writes a note,
// sets a task, moves the deal — is an event like any the CRM sends: it is
// built here, ingested through the engine's Ingestor into the log, and
// the live engine is stepped, so the findings it ends are resolved before
// the card shows again.

func (s *Server) completeTask(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	taskID := r.PathValue("task")
	s.act(w, r, c, func(deal *funnelwatch.Deal, tx funnelwatch.ReadTx) (funnelwatch.Event, error) {
		t, err := tx.Task(r.Context(), taskID)
		if err != nil || t.DealID != deal.ID {
			return funnelwatch.Event{}, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "task %q not found", taskID)
		}
		return funnelwatch.Event{Type: funnelwatch.EventTaskCompleted, DealID: deal.ID, TaskID: t.ID,
			Result: strings.TrimSpace(r.PostFormValue("result"))}, nil
	})
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.act(w, r, c, func(deal *funnelwatch.Deal, _ funnelwatch.ReadTx) (funnelwatch.Event, error) {
		text := strings.TrimSpace(r.PostFormValue("text"))
		if text == "" {
			return funnelwatch.Event{}, funnelwatch.Errorf(funnelwatch.EINVALID, "empty note")
		}
		return funnelwatch.Event{Type: funnelwatch.EventNoteAdded, DealID: deal.ID,
			Note: &funnelwatch.NotePayload{ID: "web-" + shortID(), DealID: deal.ID, Author: c.user.ID, Text: text}}, nil
	})
}

func (s *Server) createTask(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.act(w, r, c, func(deal *funnelwatch.Deal, _ funnelwatch.ReadTx) (funnelwatch.Event, error) {
		text := strings.TrimSpace(r.PostFormValue("text"))
		if text == "" {
			return funnelwatch.Event{}, funnelwatch.Errorf(funnelwatch.EINVALID, "the task needs a text")
		}
		var due *time.Time
		if v := r.PostFormValue("due"); v != "" {
			t, err := time.ParseInLocation("2006-01-02T15:04", v, s.loc())
			if err != nil {
				return funnelwatch.Event{}, funnelwatch.Errorf(funnelwatch.EINVALID, "due: %q is not a date and time", v)
			}
			due = &t
		}
		// The deal's responsible does the task; a manager sets tasks on
		// their own deals, a supervisor for the deal's manager.
		assignee := deal.Responsible
		if assignee == "" {
			assignee = c.user.ID
		}
		return funnelwatch.Event{Type: funnelwatch.EventTaskCreated, DealID: deal.ID,
			Task: &funnelwatch.TaskPayload{ID: "web-" + shortID(), DealID: deal.ID, Assignee: assignee, Due: due, Text: text,
				Kind: r.PostFormValue("kind")}}, nil
	})
}

func (s *Server) moveDeal(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.act(w, r, c, func(deal *funnelwatch.Deal, _ funnelwatch.ReadTx) (funnelwatch.Event, error) {
		return funnelwatch.Event{Type: funnelwatch.EventDealStageChanged, DealID: deal.ID,
			ToStage: r.PostFormValue("stage"), LossReason: strings.TrimSpace(r.PostFormValue("loss_reason"))}, nil
	})
}

// act builds the event of a form on a deal the user's scope sees, ingests
// it and shows the card again; a rejected event is shown with its reason.
func (s *Server) act(w http.ResponseWriter, r *http.Request, c *reqCtx, build func(*funnelwatch.Deal, funnelwatch.ReadTx) (funnelwatch.Event, error)) {
	if s.Ingestor == nil {
		s.notFound(w, r, c)
		return
	}
	id := r.PathValue("id")
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	var e funnelwatch.Event
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		deal, err := s.loadDeal(r, tx, c, id)
		if err != nil {
			return err
		}
		e, err = build(deal, tx)
		return err
	})
	back := "/deals/" + url.PathEscape(id)
	switch funnelwatch.ErrorCode(err) {
	case "":
	case funnelwatch.ENOTFOUND:
		s.notFound(w, r, c)
		return
	case funnelwatch.EINVALID:
		http.Redirect(w, r, back+"?rejected="+url.QueryEscape(funnelwatch.ErrorMessage(err)), http.StatusSeeOther)
		return
	default:
		s.fail(w, r, err)
		return
	}
	e.ID = "web:" + shortID()
	e.At = s.now().UTC().Truncate(time.Millisecond)
	e.Actor = c.user.ID
	res, err := s.Ingestor.Ingest(r.Context(), []funnelwatch.Event{e})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Outcomes[0] == engine.Rejected {
		http.Redirect(w, r, back+"?rejected="+url.QueryEscape(res.Reasons[0]), http.StatusSeeOther)
		return
	}
	s.logger().Info("web event", "type", e.Type, "deal", id, "user", c.user.ID, "id", e.ID)
	// The engine evaluates the event now, so the card shows the findings
	// it resolved.
	if err := s.catchUp(context.WithoutCancel(r.Context())); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// shortID is a random id for the events and the notes and tasks the
// pages create.
func shortID() string { return auth.NewToken()[:16] }

// describe says what an event of the timeline did.
func (s *Server) describe(lang string, e *funnelwatch.Event) string {
	what := tr(lang, "ev."+string(e.Type))
	var detail string
	switch e.Type {
	case funnelwatch.EventDealCreated:
		if e.Deal != nil {
			detail = s.stageName(e.Deal.Pipeline, e.Deal.Stage)
			if e.Deal.Amount > 0 {
				detail += ", " + ru.Money(e.Deal.Amount)
			}
		}
	case funnelwatch.EventDealStageChanged:
		detail = "→ " + s.stageRef(e.ToStage)
		if e.LossReason != "" {
			detail += " (" + e.LossReason + ")"
		}
	case funnelwatch.EventDealResponsibleChanged:
		detail = "→ " + s.userName(e.To)
	case funnelwatch.EventDealUpdated:
		var parts []string
		if e.Amount != nil {
			parts = append(parts, ru.Money(*e.Amount))
		}
		for k, v := range e.Fields {
			parts = append(parts, k+": "+formatField(v))
		}
		detail = strings.Join(parts, ", ")
	case funnelwatch.EventTaskCreated:
		if e.Task != nil {
			detail = e.Task.Text
			if e.Task.Due != nil {
				detail += " — " + e.Task.Due.In(s.loc()).Format("02.01.2006 15:04")
			}
		}
	case funnelwatch.EventTaskCompleted:
		detail = e.Result
	case funnelwatch.EventTaskRescheduled:
		if e.Due != nil {
			detail = "→ " + e.Due.In(s.loc()).Format("02.01.2006 15:04")
		}
	case funnelwatch.EventCall:
		if e.Call != nil {
			dir := tr(lang, "deal.out")
			if e.Call.Direction == funnelwatch.DirectionIn {
				dir = tr(lang, "deal.in")
			}
			ans := tr(lang, "deal.missed")
			if e.Call.Answered {
				ans = tr(lang, "deal.answered")
			}
			detail = fmt.Sprintf("%s, %s, %d s", dir, ans, e.Call.DurationS)
		}
	case funnelwatch.EventNoteAdded:
		if e.Note != nil {
			detail = e.Note.Text
		}
	}
	if detail != "" {
		return what + ": " + detail
	}
	return what
}

// stageRef names a stage reference of an event: a bare id or
// "pipeline/stage".
func (s *Server) stageRef(ref string) string {
	if p, st, ok := strings.Cut(ref, "/"); ok {
		return s.stageName(p, st)
	}
	for _, p := range s.Funnel.Pipelines {
		if st, ok := p.Stage(ref); ok {
			return st.Name
		}
	}
	return ref
}

func formatField(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case string:
		return v
	case float64:
		if v == float64(int64(v)) {
			return fmt.Sprint(int64(v))
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprint(v)
}
