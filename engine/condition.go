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

// exprRunner evaluates expressions over deals. It keeps its machine and
// the maps the expressions read from one evaluation to the next: built
// afresh, they were half of what a replay allocated. A value that did not
// change since the last deal it was given is not boxed again. Each Monitor
// and Automator has its own; it is not safe for concurrent use.
type exprRunner struct {
	vm     vm.VM
	root   map[string]any // {"deal": deal}
	deal   map[string]any // the deal as expressions see it
	strs   [len(dealStrKeys)]string
	amount float64
	filled bool
}

// dealStrKeys are the deal's text values as expressions name them, in
// the order dealStrs gives them.
var dealStrKeys = [...]string{"id", "pipeline", "stage", "status", "responsible", "source", "name", "loss_reason"}

func dealStrs(d *funnelwatch.Deal) [len(dealStrKeys)]string {
	return [...]string{d.ID, d.Pipeline, d.Stage, string(d.Status), d.Responsible, d.Source, d.Name, d.LossReason}
}

// noFields stands for a deal without fields; expressions never write to
// their environment.
var noFields = map[string]any{}

// env is the deal as expressions see it: deal.id, deal.pipeline,
// deal.stage, deal.status, deal.amount, deal.responsible, deal.source,
// deal.name, deal.loss_reason and deal.fields.
func (r *exprRunner) env(d *funnelwatch.Deal) map[string]any {
	if r.root == nil {
		r.deal = make(map[string]any, len(dealStrKeys)+2)
		r.root = map[string]any{"deal": r.deal}
	}
	for i, v := range dealStrs(d) {
		if !r.filled || r.strs[i] != v {
			r.deal[dealStrKeys[i]] = v
			r.strs[i] = v
		}
	}
	if !r.filled || r.amount != d.Amount {
		r.deal["amount"] = d.Amount
		r.amount = d.Amount
	}
	fields := d.Fields
	if fields == nil {
		fields = noFields
	}
	r.deal["fields"] = fields
	r.filled = true
	return r.root
}

// holds reports whether the expression holds for the deal; an expression
// that does not compile or run holds nowhere.
func (r *exprRunner) holds(src string, d *funnelwatch.Deal) bool {
	prog, err := compileExpr(src)
	if err != nil {
		return false
	}
	out, err := r.vm.Run(prog, r.env(d))
	if err != nil {
		return false
	}
	ok, _ := out.(bool)
	return ok
}

// condition reports whether an automation's condition allows it to act.
func (r *exprRunner) condition(au *regulations.Automation, agg *Aggregate) bool {
	if au.If == "" {
		return true
	}
	if agg == nil || agg.Deal == nil {
		return false
	}
	return r.holds(au.If, agg.Deal)
}
