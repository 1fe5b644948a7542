package regulations

import (
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/funnelwatch/funnelwatch"
)

// decodePipelines reads the pipelines section: each pipeline, its
// lifetime and its stages, and checks that it has the stages a deal needs.
func (c *checker) decodePipelines(items []item) {
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		var p funnelwatch.Pipeline
		id, e := m.required("id")
		if e != nil && c.checkID(e, m.key("id"), id) && c.noSlash(e, m.key("id"), id) {
			if c.unique(c.pipelines, e, m.key("id"), text("pipeline id", "id воронки"), id) {
				p.ID = id
			}
		}
		p.Name, _ = m.str("name")
		if p.Name == "" {
			p.Name = p.ID
		}
		p.Kind = funnelwatch.PipelineKind(c.oneOf(m, "kind", string(funnelwatch.KindSales),
			string(funnelwatch.KindSales), string(funnelwatch.KindQualification), string(funnelwatch.KindWarmup),
			string(funnelwatch.KindService), string(funnelwatch.KindAutomatic)))
		if e := m.get("lifetime"); e != nil {
			p.Lifetime = c.lifetime(e, m.key("lifetime"), p.ID)
		}
		// A duplicate pipeline is dropped, but its stages are still read
		// under the id it was written with, so its own errors are found.
		label := id
		if label == "" {
			label = it.path
		}
		stages, se := m.list("stages", false)
		c.decodeStages(&p, id, stages)
		m.done("")

		// Where a missing stage kind is reported: the stages key, or the
		// pipeline itself when it has none.
		at, key := m.at, it.path
		if se != nil {
			at, key = se.at, m.key("stages")
		}
		if se != nil && !isSeq(se.val) {
			// stages is not a list: that error says it all.
		} else if _, ok := p.FirstOpen(); !ok {
			c.errorf(at, key, "pipeline %s has no open stage: deals need somewhere to be worked",
				"в воронке %s нет открытого этапа: сделкам негде находиться в работе", label)
		}
		if (se == nil || isSeq(se.val)) && p.Kind != funnelwatch.KindAutomatic && !hasType(&p, funnelwatch.StageLost) {
			c.errorf(at, key, "pipeline %s has no stage of type lost", "в воронке %s нет этапа с type: lost", label)
		}
		if p.ID == "" {
			continue
		}
		c.r.Pipelines = append(c.r.Pipelines, p)
	}
}

func hasType(p *funnelwatch.Pipeline, t funnelwatch.StageType) bool {
	for _, s := range p.Stages {
		if s.Type == t {
			return true
		}
	}
	return false
}

// noSlash reports an id with a slash, which would make "pipeline/stage"
// references ambiguous.
func (c *checker) noSlash(e *entry, key, id string) bool {
	for _, r := range id {
		if r == '/' {
			c.errorf(e.valPos(), key, "bad id %q: no / in pipeline and stage ids", "неверный id %q: в id воронок и этапов не может быть /", id)
			return false
		}
	}
	return true
}

// lifetime reads `lifetime: 7d` or `lifetime: {limit: 7d, then: {...}}`.
func (c *checker) lifetime(e *entry, key, pipeline string) time.Duration {
	switch e.val.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
	default: // the short form: a limit alone
		d, _ := c.durationOf(e.val, key, "lifetime", true)
		return d
	}
	m := c.asMap(e.val, key, e.at)
	if m == nil {
		return 0
	}
	if !m.has("limit") {
		c.errorf(m.at, m.key("limit"), "limit is required (how long a deal may stay, e.g. 7d)",
			"не указан limit (сколько сделка может пробыть в воронке, например 7d)")
	}
	d, _ := m.duration("limit", true)
	if te := m.get("then"); te != nil {
		if tm := c.asMap(te.val, m.key("then"), te.at); tm != nil {
			then := &LifetimeThen{}
			if s, se := tm.str("move_to"); se != nil {
				then.MoveTo = c.stageRef(s, pipeline, tm.key("move_to"), se.valPos())
			}
			if s, ae := tm.str("assign"); ae != nil {
				then.Assign, _ = c.assignee(s, tm.key("assign"), ae.valPos(), false)
			}
			if then.MoveTo == "" && then.Assign.IsZero() && !tm.has("move_to") && !tm.has("assign") {
				c.errorf(tm.at, tm.path, "then needs move_to, assign or both", "в then нужно указать move_to, assign или оба")
			}
			tm.done("")
			if pipeline != "" {
				c.r.Lifetimes[pipeline] = then
			}
		}
	}
	m.done("")
	return d
}

// decodeStages reads the stages of pipeline p, written with id pid.
func (c *checker) decodeStages(p *funnelwatch.Pipeline, pid string, items []item) {
	seen := map[string]pos{}
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		st := funnelwatch.Stage{Pipeline: pid, Order: len(p.Stages)}
		if id, e := m.required("id"); e != nil && c.checkID(e, m.key("id"), id) && c.noSlash(e, m.key("id"), id) {
			if first, dup := seen[id]; dup {
				c.errorf(e.valPos(), m.key("id"), "duplicate stage id %s in pipeline %s (first at line %d)",
					"повторяется id этапа %s в воронке %s (первый раз — в строке %d)", id, pid, first.line)
			} else {
				seen[id] = e.valPos()
				st.ID = id
			}
		}
		st.Name, _ = m.str("name")
		if st.Name == "" {
			st.Name = st.ID
		}
		st.Type = funnelwatch.StageType(c.oneOf(m, "type", string(funnelwatch.StageOpen),
			string(funnelwatch.StageOpen), string(funnelwatch.StageWon), string(funnelwatch.StageLost)))
		st.SLA, _ = m.duration("sla", true)
		st.Critical = m.boolean("critical")
		st.RequiredFields, _ = m.texts("required_fields", false)
		if items, e := m.list("on_enter", false); e != nil && len(items) > 0 {
			do := c.actions(items, pid)
			if st.ID != "" && p.ID != "" {
				a := Automation{
					ID:        p.ID + "." + st.ID + ".on_enter",
					Line:      e.at.line,
					When:      TriggerStageEntered,
					Pipelines: []string{p.ID},
					Stage:     p.ID + "/" + st.ID,
					Do:        do,
				}
				if c.unique(c.autoAt, e, m.key("on_enter"), text("automation id", "id автоматизации"), a.ID) {
					c.r.Automations = append(c.r.Automations, a)
				}
			}
		}
		m.done("")
		if st.ID == "" {
			continue
		}
		p.Stages = append(p.Stages, st)
	}
}
