package engine

import (
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Expressions (an automation's "if", an expr rule's "when") are evaluated
// by expr-lang over the deal as the regulations file names it:
// deal.id, deal.pipeline, deal.stage, deal.status, deal.amount,
// deal.responsible, deal.source, deal.name, deal.loss_reason and
// deal.fields.NAME.
var programs sync.Map // expression text → *vm.Program, or error

func compileExpr(src string) (*vm.Program, error) {
	if p, ok := programs.Load(src); ok {
		if err, bad := p.(error); bad {
			return nil, err
		}
		return p.(*vm.Program), nil
	}
	prog, err := expr.Compile(src, expr.AsBool(), expr.AllowUndefinedVariables())
	if err != nil {
		programs.Store(src, err)
		return nil, err
	}
	programs.Store(src, prog)
	return prog, nil
}

// dealEnv is the deal as expressions see it.
func dealEnv(d *funnelwatch.Deal) map[string]any {
	fields := d.Fields
	if fields == nil {
		fields = map[string]any{}
	}
	return map[string]any{"deal": map[string]any{
		"id": d.ID, "pipeline": d.Pipeline, "stage": d.Stage, "status": string(d.Status), "amount": d.Amount,
		"responsible": d.Responsible, "source": d.Source, "name": d.Name, "loss_reason": d.LossReason, "fields": fields,
	}}
}

// evalExpr reports whether the expression holds for the deal; an
// expression that does not compile or run holds nowhere.
func evalExpr(src string, d *funnelwatch.Deal) bool {
	prog, err := compileExpr(src)
	if err != nil {
		return false
	}
	out, err := expr.Run(prog, dealEnv(d))
	if err != nil {
		return false
	}
	ok, _ := out.(bool)
	return ok
}

// condition reports whether an automation's condition allows it to act.
func condition(au *regulations.Automation, agg *Aggregate) bool {
	if au.If == "" {
		return true
	}
	if agg == nil || agg.Deal == nil {
		return false
	}
	return evalExpr(au.If, agg.Deal)
}
