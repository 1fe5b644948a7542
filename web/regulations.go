package web

import (
	"net/http"
	"strings"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

type regulationsData struct {
	Timezone    string
	Users       []funnelwatch.User
	Pipelines   []funnelwatch.Pipeline
	Automations []automationLine
	Rules       []ruleSpec
	// CanCheck shows the form to validate and backtest a changed file;
	// Check is its result.
	CanCheck bool
	Check    *checkView
}

type automationLine struct {
	ID, When, Scope, Do string
}

type ruleSpec struct {
	regulations.QualityRule
	Name  funnelwatch.Text
	Scope string
}

// regulationsPage shows the regulations file the server runs: the team,
// the pipelines with their stages and SLAs, the automations, the rules.
func (s *Server) regulationsPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	s.renderRegulations(w, r, c, &checkView{Source: string(s.Source), Mode: string(engine.Observe)})
}

// renderRegulations shows the running file and, to an admin or a
// supervisor, the form to check a changed one with its result.
func (s *Server) renderRegulations(w http.ResponseWriter, r *http.Request, c *reqCtx, check *checkView) {
	d := regulationsData{Users: s.Funnel.Users, Pipelines: s.Funnel.Pipelines, CanCheck: canCheck(c), Check: check}
	if s.Funnel.Location != nil {
		d.Timezone = s.Funnel.Location.String()
	}
	if regs := s.Regulations; regs != nil {
		for _, a := range regs.Automations {
			line := automationLine{ID: a.ID, When: string(a.When), Scope: strings.Join(append(append([]string{}, a.Pipelines...), a.Stage), " ")}
			if a.After > 0 {
				line.When += " + " + formatDuration(c.lang, a.After)
			}
			if a.Idle > 0 {
				line.When += " " + formatDuration(c.lang, a.Idle)
			}
			if a.Cron != "" {
				line.When += " (" + a.Cron + ")"
			}
			var do []string
			for _, x := range a.Do {
				s := string(x.Kind)
				switch {
				case x.Task != nil:
					s += ": " + x.Task.Text
				case x.MoveTo != "":
					s += " → " + x.MoveTo
				}
				do = append(do, s)
			}
			line.Do = strings.Join(do, "; ")
			d.Automations = append(d.Automations, line)
		}
		for _, q := range regs.Quality {
			d.Rules = append(d.Rules, ruleSpec{QualityRule: q, Name: s.ruleName(q.ID),
				Scope: strings.TrimSpace(strings.Join(q.Pipelines, " ") + " " + strings.Join(q.Stages, " "))})
		}
	}
	s.render(w, r, c, http.StatusOK, "regulations.html", view{Nav: "regulations", Title: tr(c.lang, "regs.title"), Data: d})
}
