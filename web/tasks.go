package web

import (
	"net/http"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

type tasksData struct {
	Team                            bool
	CanTeam                         bool
	Overdue, Today, Upcoming, NoDue taskGroup
}

// taskGroup is a group of the tasks page: its first rows (all of them
// when asked for), how many there are, and the link to show them all.
type taskGroup struct {
	Rows    []taskRow
	Count   int
	More    int    // rows not shown
	ShowAll string // the page with the whole group
}

// tasksPerGroup is how many tasks a group of the page shows unless asked
// for all: a large team's open tasks were one 4 MB page.
const tasksPerGroup = 200

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
	var rows []*taskRow
	var deals map[string]dealRef
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		assignee := c.user.ID
		if d.Team {
			assignee = ""
		}
		tasks, err := s.openTasks(r, tx, c, assignee)
		if err != nil {
			return err
		}
		// The store lists by due time: each group's first rows are its
		// most urgent.
		show := r.URL.Query().Get("show")
		for _, t := range tasks {
			if !c.scope.Sees(t.Assignee) {
				continue
			}
			g, id := &d.NoDue, "nodue"
			switch {
			case t.Due == nil:
			case t.Due.Before(now):
				g, id = &d.Overdue, "overdue"
			case t.Due.Before(tomorrow):
				g, id = &d.Today, "today"
			default:
				g, id = &d.Upcoming, "upcoming"
			}
			g.Count++
			if len(g.Rows) >= tasksPerGroup && show != id {
				g.More++
				if g.ShowAll == "" {
					q := r.URL.Query()
					q.Del("lang")
					q.Set("show", id)
					g.ShowAll = "/tasks?" + q.Encode() + "#" + id
				}
				continue
			}
			g.Rows = append(g.Rows, taskRow{Task: t})
		}
		var ids []string
		for _, g := range []*taskGroup{&d.Overdue, &d.Today, &d.Upcoming, &d.NoDue} {
			for i := range g.Rows {
				ids = append(ids, g.Rows[i].DealID)
				rows = append(rows, &g.Rows[i])
			}
		}
		deals, err = dealRefs(r, tx, c, ids)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, row := range rows {
		row.Deal = deals[row.DealID]
	}
	title := tr(c.lang, "tasks.title")
	if d.Team {
		title = tr(c.lang, "tasks.team")
	}
	s.render(w, r, c, http.StatusOK, "tasks.html", view{Nav: "tasks", Title: title, Data: d})
}
