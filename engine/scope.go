package engine

import (
	"slices"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Catalogue rules the monitor judges per deal, as indexes into
// scope.rule.
const (
	kNoNextTask = iota
	kTaskOverdue
	kTaskNoDue
	kStageSLA
	kLifetime
	kRequired
	kJunk
	kBackward
	kLostWithoutReason
	kLostTooFast
	kFirstResponse
	kCallback
	kCallWithoutUpdate
	kEmptyComment
	kReschedule
	kHighValue
	kMassClosing
	nRuleKinds
)

var ruleKinds = [nRuleKinds]string{
	kNoNextTask:        regulations.RuleNoNextTask,
	kTaskOverdue:       regulations.RuleTaskOverdue,
	kTaskNoDue:         regulations.RuleTaskNoDue,
	kStageSLA:          regulations.RuleStageSLA,
	kLifetime:          regulations.RulePipelineLifetime,
	kRequired:          regulations.RuleRequiredFields,
	kJunk:              regulations.RuleJunkField,
	kBackward:          regulations.RuleBackwardMove,
	kLostWithoutReason: regulations.RuleLostWithoutReason,
	kLostTooFast:       regulations.RuleLostTooFast,
	kFirstResponse:     regulations.RuleFirstResponse,
	kCallback:          regulations.RuleMissedCallCallback,
	kCallWithoutUpdate: regulations.RuleCallWithoutUpdate,
	kEmptyComment:      regulations.RuleEmptyComment,
	kReschedule:        regulations.RuleRescheduleWithoutCall,
	kHighValue:         regulations.RuleHighValueUnsupervised,
	kMassClosing:       regulations.RuleMassClosing,
}

// scope is what the rules make of one place in the funnel, a pipeline and
// a stage: the rule of each catalogue id that applies there, the
// expression rules, the fields to check. It is worked out once per place,
// the first time a deal is seen there, rather than at every evaluation.
type scope struct {
	pipeline, stage string
	p               *funnelwatch.Pipeline // nil: not a pipeline of the funnel
	st              *funnelwatch.Stage    // nil: not a stage of the pipeline

	rule  [nRuleKinds]*regulations.QualityRule
	exprs []exprRule
	// required: the fields the required_fields rule wants here (the
	// stage's and the rule's own); junk: the fields the junk rule reads.
	required, junk []string

	rate stageRate     // closed deals that passed through here
	pipe *pipelineRate // closed deals of the pipeline
}

// exprRule is an expression rule that applies in a scope: when is the
// expression of the rule listed, rule the enabled rule of its id.
type exprRule struct {
	when string
	rule *regulations.QualityRule
}

type place struct{ pipeline, stage string }

// scopeOf returns the scope of a place, working it out the first time.
func (m *Monitor) scopeOf(pipeline, stage string) *scope {
	k := place{pipeline, stage}
	if sc := m.scopes[k]; sc != nil {
		return sc
	}
	sc := &scope{pipeline: pipeline, stage: stage, pipe: m.rates.pipeline(pipeline)}
	if p, ok := m.regs.Pipeline(pipeline); ok {
		sc.p = p
		sc.st, _ = p.Stage(stage)
	}
	for k, id := range ruleKinds {
		sc.rule[k] = m.ruleIn(id, pipeline, stage)
	}
	for _, r := range m.exprs {
		if rr := m.ruleIn(r.ID, pipeline, stage); rr != nil {
			sc.exprs = append(sc.exprs, exprRule{when: r.When, rule: rr})
		}
	}
	if r := sc.rule[kRequired]; r != nil && sc.st != nil {
		sc.required = sc.st.RequiredFields
		if len(r.Fields) > 0 {
			sc.required = append(slices.Clone(sc.required), r.Fields...)
		}
	}
	if r := sc.rule[kJunk]; r != nil {
		sc.junk = r.Fields
		if len(sc.junk) == 0 && sc.st != nil {
			sc.junk = sc.st.RequiredFields
		}
	}
	m.scopes[k] = sc
	return sc
}

// scopeFor returns the scope of where the deal is, through the deal's
// cached one when it still matches.
func (m *Monitor) scopeFor(ds *dealMon, d *funnelwatch.Deal) *scope {
	if sc := ds.sc; sc != nil && sc.pipeline == d.Pipeline && sc.stage == d.Stage {
		return sc
	}
	ds.sc = m.scopeOf(d.Pipeline, d.Stage)
	return ds.sc
}

// ruleIn returns the enabled rule with the id that applies in the
// pipeline and stage.
func (m *Monitor) ruleIn(id, pipeline, stage string) *regulations.QualityRule {
	r := m.byID[id]
	if r == nil {
		return nil
	}
	if len(r.Pipelines) > 0 && !slices.Contains(r.Pipelines, pipeline) {
		return nil
	}
	if len(r.Stages) > 0 && !slices.Contains(r.Stages, pipeline+"/"+stage) {
		return nil
	}
	return r
}

// isStageRef reports whether ref is "pipeline/stage", without building
// the string.
func isStageRef(ref, pipeline, stage string) bool {
	return len(ref) == len(pipeline)+1+len(stage) && ref[:len(pipeline)] == pipeline &&
		ref[len(pipeline)] == '/' && ref[len(pipeline)+1:] == stage
}
