package web

import (
	"net/http"

	"github.com/funnelwatch/funnelwatch"
)

type stageRow struct {
	Stage  funnelwatch.Stage
	Deals  int
	Amount float64
}

type pipelineView struct {
	Pipeline funnelwatch.Pipeline
	Stages   []stageRow
	Open     int
	Amount   float64 // on open stages
}

type funnelData struct {
	Pipelines []pipelineView
	Events    int64
}

// funnelPage shows the pipelines with the deals and money on each stage.
// The counts are the workspace's (StageCounts), the same for every role:
// the shape of the funnel, not anyone's deals.
func (s *Server) funnelPage(w http.ResponseWriter, r *http.Request, c *reqCtx) {
	if err := s.catchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return
	}
	var counts []funnelwatch.StageCount
	var events int64
	err := s.Store.View(r.Context(), s.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		if counts, err = tx.StageCounts(r.Context()); err != nil {
			return err
		}
		events, err = tx.EventCount(r.Context())
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	byStage := map[string]funnelwatch.StageCount{}
	for _, c := range counts {
		byStage[c.Pipeline+"/"+c.Stage] = c
	}
	d := funnelData{Events: events}
	for _, p := range s.Funnel.Pipelines {
		v := pipelineView{Pipeline: p}
		for _, st := range p.Stages {
			c := byStage[st.Ref()]
			v.Stages = append(v.Stages, stageRow{Stage: st, Deals: c.Deals, Amount: c.Amount})
			if st.Type == funnelwatch.StageOpen {
				v.Open += c.Deals
				v.Amount += c.Amount
			}
		}
		d.Pipelines = append(d.Pipelines, v)
	}
	s.render(w, r, c, http.StatusOK, "funnel.html", view{Nav: "funnel", Title: tr(c.lang, "funnel.title"), Data: d})
}
