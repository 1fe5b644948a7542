package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// boardPipeline is the pipeline the board shows: the one asked for, else
// the first with deals to show (so a link from the dashboard lands on
// some), else the first; nil when the funnel has none.
func (s *Server) boardPipeline(id string, perPipeline map[string]int) *funnelwatch.Pipeline {
	if p, ok := s.Funnel.Pipeline(id); ok {
		return p
	}
	if id == "" {
		for i, p := range s.Funnel.Pipelines {
			if perPipeline[p.ID] > 0 {
				return &s.Funnel.Pipelines[i]
			}
		}
	}
	if len(s.Funnel.Pipelines) == 0 {
		return nil
	}
	return &s.Funnel.Pipelines[0]
}

// cardsPerStage bounds a column of the board; the rest is a count.
const cardsPerStage = 25

type boardData struct {
	Pipeline  *funnelwatch.Pipeline
	Pipelines []pipelineTab
	Columns   []column
	NoTask    bool
	User      string
	Users     []option
	// Stage, when set, keeps the board to that stage's column (the
	// funnel page's "deals now" links here).
	Stage string
}

type pipelineTab struct {
	ID, Name string
	Deals    int
	Href     string
}

type column struct {
	Stage funnelwatch.Stage
	Cards []card
	Count int
	More  int
	Sum   float64
}

type card struct {
	*funnelwatch.Deal
	PastSLA bool
	NoTask  bool
	OnStage time.Duration
}

// dealsPage is the board of a pipeline: its open stages as columns, the
// scope's open deals as cards, red past the stage's SLA, marked when the
// deal has no open task. ?notask=1 keeps the deals without a task only,
// ?stage= one stage's column.
func (s *Server) dealsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := boardData{NoTask: q.Get("notask") == "1", User: q.Get("user"), Stage: q.Get("stage")}
	now := s.now()
	// The store counts the open deals per pipeline and stage and lists
	// each column's first 25: a board of 77,000 open deals reads a few
	// hundred rows.
	f := funnelwatch.DealFilter{Status: funnelwatch.DealOpen, Responsible: d.User, WithoutOpenTask: d.NoTask}
	var counts []funnelwatch.StageCount
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		stx := scoped(tx, c.scope)
		var err error
		if counts, err = stx.DealCounts(r.Context(), f); err != nil {
			return err
		}
		perPipeline := map[string]int{}
		for _, n := range counts {
			perPipeline[n.Pipeline] += n.Deals
		}
		d.Pipeline = s.boardPipeline(q.Get("pipeline"), perPipeline)
		if d.Pipeline == nil {
			return nil
		}
		for _, x := range s.Funnel.Pipelines {
			v := url.Values{"pipeline": {x.ID}}
			if d.NoTask {
				v.Set("notask", "1")
			}
			if d.User != "" {
				v.Set("user", d.User)
			}
			d.Pipelines = append(d.Pipelines, pipelineTab{ID: x.ID, Name: x.Name, Deals: perPipeline[x.ID], Href: "/deals?" + v.Encode()})
		}
		var shown []string
		for _, st := range d.Pipeline.Stages {
			if st.Type != funnelwatch.StageOpen || (d.Stage != "" && d.Stage != st.ID) {
				continue
			}
			col := column{Stage: st}
			for _, n := range counts {
				if n.Pipeline == d.Pipeline.ID && n.Stage == st.ID {
					col.Count, col.Sum = n.Deals, n.Amount
				}
			}
			if col.Count > 0 {
				cf := f
				cf.Pipeline, cf.Stage, cf.LongestOnStage, cf.Limit = d.Pipeline.ID, st.ID, true, cardsPerStage
				deals, err := stx.Deals(r.Context(), cf)
				if err != nil {
					return err
				}
				for _, deal := range deals {
					on := now.Sub(deal.StageEnteredAt)
					col.Cards = append(col.Cards, card{Deal: deal, OnStage: on, PastSLA: col.Stage.SLA > 0 && on > col.Stage.SLA})
					shown = append(shown, deal.ID)
				}
				col.More = col.Count - len(col.Cards)
			}
			d.Columns = append(d.Columns, col)
		}
		// Which of the cards shown have no next step.
		if len(shown) == 0 {
			return nil // (no DealIDs would be every open task)
		}
		open := true
		tasks, err := tx.Tasks(r.Context(), funnelwatch.TaskFilter{DealIDs: shown, Open: &open})
		if err != nil {
			return err
		}
		withTask := map[string]bool{}
		for _, t := range tasks {
			withTask[t.DealID] = true
		}
		for i := range d.Columns {
			for j := range d.Columns[i].Cards {
				d.Columns[i].Cards[j].NoTask = !withTask[d.Columns[i].Cards[j].Deal.ID]
			}
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Pipeline == nil {
		s.notFound(w, r, c)
		return
	}
	for _, u := range s.Funnel.Users {
		if c.scope.Sees(u.ID) {
			d.Users = append(d.Users, option{u.ID, u.Name})
		}
	}
	s.render(w, r, c, http.StatusOK, "deals.html", view{Nav: "deals", Title: tr(c.lang, "deals.title") + " — " + d.Pipeline.Name, Data: d})
}

type dealData struct {
	Deal       *funnelwatch.Deal
	Pipeline   *funnelwatch.Pipeline
	Stage      *funnelwatch.Stage
	Contact    *funnelwatch.Contact
	Tasks      []taskLine
	Calls      []*funnelwatch.Call
	Notes      []*funnelwatch.Note
	Events     []eventLine
	Violations []violationLine
	Fields     []option
	CanAct     bool
	Kinds      []string
	Moves      []funnelwatch.Stage
	Rejected   string
	DueDefault string
}

type taskLine struct {
	*funnelwatch.Task
	Overdue bool
}

type eventLine struct {
	funnelwatch.Event
	What string
}

// dealRef is a deal a list line names: its name, and whether the user
// may open its card. A finding or a task of the user's can be on a deal
// that has passed to another manager since: its line names the deal
// without a link that would answer 404.
type dealRef struct {
	Name    string
	Visible bool
}

// dealRefs reads the deals with the ids (repeats and empty ids are
// skipped) in one read.
func dealRefs(r *http.Request, tx funnelwatch.ReadTx, c *reqCtx, ids []string) (map[string]dealRef, error) {
	refs := map[string]dealRef{}
	var want []string
	seen := map[string]bool{"": true}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			want = append(want, id)
		}
	}
	if len(want) == 0 {
		return refs, nil
	}
	deals, err := tx.Deals(r.Context(), funnelwatch.DealFilter{IDs: want, IncludeDeleted: true})
	if err != nil {
		return nil, err
	}
	for _, d := range deals {
		refs[d.ID] = dealRef{Name: d.Name, Visible: c.scope.Sees(d.Responsible)}
	}
	return refs, nil
}

// loadDeal reads the deal if the scope sees it; ENOTFOUND otherwise, so
// a deal outside the scope and a deal that does not exist look the same.
func (s *Server) loadDeal(r *http.Request, tx funnelwatch.ReadTx, c *reqCtx, id string) (*funnelwatch.Deal, error) {
	deal, err := tx.Deal(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !c.scope.Sees(deal.Responsible) {
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "deal %q not found", id)
	}
	return deal, nil
}

func (s *Server) dealPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	now := s.now()
	d := dealData{Rejected: r.URL.Query().Get("rejected"), Kinds: []string{funnelwatch.TaskCall, funnelwatch.TaskMeeting, funnelwatch.TaskFollowUp, funnelwatch.TaskControl}}
	var events []funnelwatch.Event
	var found []*funnelwatch.Violation
	var tasks []*funnelwatch.Task
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		if d.Deal, err = s.loadDeal(r, tx, c, id); err != nil {
			return err
		}
		if d.Deal.ContactID != "" {
			if d.Contact, err = tx.Contact(r.Context(), d.Deal.ContactID); err != nil && funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				return err
			}
		}
		if tasks, err = tx.Tasks(r.Context(), funnelwatch.TaskFilter{DealID: id}); err != nil {
			return err
		}
		if d.Calls, err = tx.Calls(r.Context(), id); err != nil {
			return err
		}
		if d.Notes, err = tx.Notes(r.Context(), id); err != nil {
			return err
		}
		if events, err = tx.Events(r.Context(), funnelwatch.EventFilter{DealID: id}); err != nil {
			return err
		}
		found, err = tx.Violations(r.Context(), funnelwatch.ViolationFilter{DealID: id})
		return err
	})
	if funnelwatch.ErrorCode(err) == funnelwatch.ENOTFOUND {
		s.notFound(w, r, c)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Pipeline, _ = s.Funnel.Pipeline(d.Deal.Pipeline)
	if d.Pipeline != nil {
		d.Stage, _ = d.Pipeline.Stage(d.Deal.Stage)
		for _, st := range d.Pipeline.Stages {
			if st.ID != d.Deal.Stage {
				d.Moves = append(d.Moves, st)
			}
		}
	}
	for _, t := range tasks {
		d.Tasks = append(d.Tasks, taskLine{Task: t, Overdue: t.Open() && t.Due != nil && t.Due.Before(now)})
	}
	// Newest first: what happened last is what the manager looks for.
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		d.Events = append(d.Events, eventLine{Event: e, What: s.describe(c.lang, &e)})
	}
	for i := len(found) - 1; i >= 0; i-- {
		v := found[i]
		d.Violations = append(d.Violations, violationLine{Violation: v, RuleName: s.ruleName(v.Rule), Deal: dealRef{Name: d.Deal.Name, Visible: true}, Evidence: s.evidence(v.Evidence)})
	}
	for k, v := range d.Deal.Fields {
		d.Fields = append(d.Fields, option{k, formatField(v)})
	}
	slices.SortFunc(d.Fields, func(a, b option) int { return strings.Compare(a.Value, b.Value) })
	d.CanAct = s.Ingestor != nil && d.Deal.DeletedAt == nil
	d.DueDefault = now.In(s.loc()).Add(2 * time.Hour).Format("2006-01-02T15:04")
	title := d.Deal.Name
	if title == "" {
		title = d.Deal.ID
	}
	s.render(w, r, c, http.StatusOK, "deal.html", view{Nav: "deals", Title: title, Data: d})
}
