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
	show := r.URL.Query().Get("show")
	var deals map[string]dealRef
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		open := true
		f := funnelwatch.TaskFilter{Open: &open, Assignee: c.user.ID}
		if d.Team {
			f.Assignee = "" // the scope's: stx narrows it
		}
		stx := scoped(tx, c.scope)
		// Each group counted and its most urgent read, on the indexes of
		// open tasks: a large team's open tasks are never read whole.
		var ids []string
		for _, g := range []struct {
			id    string
			group *taskGroup
			from  time.Time
			to    time.Time
			noDue bool
		}{
			{"overdue", &d.Overdue, time.Time{}, now, false},
			{"today", &d.Today, now, tomorrow, false},
			{"upcoming", &d.Upcoming, tomorrow, time.Time{}, false},
			{"nodue", &d.NoDue, time.Time{}, time.Time{}, true},
		} {
			gf := f
			gf.DueFrom, gf.DueBefore, gf.NoDue = g.from, g.to, g.noDue
			n, err := stx.CountTasks(r.Context(), gf)
			if err != nil {
				return err
			}
			if show != g.id {
				gf.Limit = tasksPerGroup
			}
			tasks, err := stx.Tasks(r.Context(), gf)
			if err != nil {
				return err
			}
			g.group.Count, g.group.More = n, max(0, n-len(tasks))
			if g.group.More > 0 {
				g.group.ShowAll = withParam(r, "show", g.id) + "#" + g.id
			}
			for _, t := range tasks {
				g.group.Rows = append(g.group.Rows, taskRow{Task: t})
				ids = append(ids, t.DealID)
			}
		}
		var err error
		deals, err = dealRefs(r, tx, c, ids)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, g := range []*taskGroup{&d.Overdue, &d.Today, &d.Upcoming, &d.NoDue} {
		for i := range g.Rows {
			g.Rows[i].Deal = deals[g.Rows[i].DealID]
		}
	}
	title := tr(c.lang, "tasks.title")
	if d.Team {
		title = tr(c.lang, "tasks.team")
	}
	s.render(w, r, c, http.StatusOK, "tasks.html", view{Nav: "tasks", Title: title, Data: d})
}
