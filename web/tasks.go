package web

import (
	"net/http"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

type tasksData struct {
	Team                            bool
	CanTeam                         bool
	Overdue, Today, Upcoming, NoDue []taskRow
}

type taskRow struct {
	*funnelwatch.Task
	Deal dealRef
}

// tasksPage lists the open tasks of the signed-in user (?who=team: of
// their scope) in four groups: overdue, due today, upcoming, no due date.
func (s *Server) tasksPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	d := tasksData{CanTeam: c.scope.Only() == ""}
	d.Team = d.CanTeam && r.URL.Query().Get("who") == "team"
	now := s.now()
	l := now.In(s.loc())
	tomorrow := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, s.loc())
	var tasks []*funnelwatch.Task
	var deals map[string]dealRef
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		assignee := c.user.ID
		if d.Team {
			assignee = ""
		}
		var err error
		if tasks, err = s.openTasks(r, tx, c, assignee); err != nil {
			return err
		}
		var ids []string
		for _, t := range tasks {
			if c.scope.Sees(t.Assignee) {
				ids = append(ids, t.DealID)
			}
		}
		deals, err = dealRefs(r, tx, c, ids)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, t := range tasks {
		if !c.scope.Sees(t.Assignee) {
			continue
		}
		row := taskRow{Task: t, Deal: deals[t.DealID]}
		switch {
		case t.Due == nil:
			d.NoDue = append(d.NoDue, row)
		case t.Due.Before(now):
			d.Overdue = append(d.Overdue, row)
		case t.Due.Before(tomorrow):
			d.Today = append(d.Today, row)
		default:
			d.Upcoming = append(d.Upcoming, row)
		}
	}
	title := tr(c.lang, "tasks.title")
	if d.Team {
		title = tr(c.lang, "tasks.team")
	}
	s.render(w, r, c, http.StatusOK, "tasks.html", view{Nav: "tasks", Title: title, Data: d})
}
