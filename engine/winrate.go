package engine

import "github.com/funnelwatch/funnelwatch"

// winRates learns, from the deals that closed, how often a deal that
// passed through a stage was won: the odds that weigh a stuck deal's
// amount into money at risk (DESIGN §6). The counts live on the stages'
// scopes (see scope); an open deal's stages passed through are kept with
// the deal (dealMon.visited).
type winRates struct {
	pipelines map[string]*pipelineRate
}

// stageRate counts the closed deals that passed through a stage.
type stageRate struct{ won, closed int }

// pipelineRate counts a pipeline's closed deals.
type pipelineRate struct{ won, closed int }

func newWinRates() winRates {
	return winRates{pipelines: map[string]*pipelineRate{}}
}

// pipeline returns the counts of a pipeline.
func (w *winRates) pipeline(id string) *pipelineRate {
	p := w.pipelines[id]
	if p == nil {
		p = &pipelineRate{}
		w.pipelines[id] = p
	}
	return p
}

// observe takes a deal as an event left it (prev: as it was before); sc is
// the scope of where it is now, visited the stages it passed through.
func (w *winRates) observe(prev, d *funnelwatch.Deal, sc *scope, visited *[]*scope) {
	if d == nil {
		return
	}
	if d.DeletedAt != nil {
		*visited = nil
		return
	}
	if d.Open() {
		for _, v := range *visited {
			if v == sc {
				return
			}
		}
		*visited = append(*visited, sc)
		return
	}
	if prev != nil && !prev.Open() {
		return // moved between closed stages: counted once
	}
	won := d.Status == funnelwatch.DealWon
	for _, v := range *visited {
		v.rate.closed++
		if won {
			v.rate.won++
		}
	}
	p := sc.pipe
	p.closed++
	if won {
		p.won++
	}
	*visited = nil
}

// rate returns the share of won deals among the closed ones that passed
// through the stage; the pipeline's when none of them has closed yet;
// 1 (the whole amount) when nothing in the pipeline has closed.
func (w *winRates) rate(sc *scope) float64 {
	if n := sc.rate.closed; n > 0 {
		return float64(sc.rate.won) / float64(n)
	}
	if n := sc.pipe.closed; n > 0 {
		return float64(sc.pipe.won) / float64(n)
	}
	return 1
}
