package engine

import (
	"testing"

	"github.com/funnelwatch/funnelwatch"
)

// One runner evaluates expressions over many deals in turn, keeping the
// values that did not change: each answer must be the one a fresh runner
// gives for that deal alone.
func TestExprRunnerAnswersForEachDealInTurn(t *testing.T) {
	paid := &funnelwatch.Deal{ID: "D1", Pipeline: "sales", Stage: "contact", Status: funnelwatch.DealOpen,
		Responsible: "roman", Amount: 120000, Fields: map[string]any{"paid": true}}
	unpaid := &funnelwatch.Deal{ID: "D2", Pipeline: "sales", Stage: "contact", Status: funnelwatch.DealOpen,
		Responsible: "olga", Amount: 5000}
	lost := &funnelwatch.Deal{ID: "D3", Pipeline: "warmup", Stage: "lost", Status: funnelwatch.DealLost,
		Responsible: "roman", LossReason: "дорого", Source: "avito", Name: "Шины"}
	exprs := []string{
		`deal.fields.paid == true && deal.stage == "contact"`,
		`deal.amount > 100000`,
		`deal.responsible == "roman" && deal.pipeline == "sales"`,
		`deal.status == "lost" && deal.loss_reason == "дорого"`,
		`deal.id == "D2" || deal.source == "avito" && deal.name == "Шины"`,
		`deal.fields.paid == nil`,
		`deal.amount +`, // does not compile: holds nowhere
	}
	order := []*funnelwatch.Deal{paid, unpaid, paid, lost, lost, unpaid, paid}
	var shared exprRunner
	for step, d := range order {
		for _, src := range exprs {
			var fresh exprRunner
			want := fresh.holds(src, d)
			if got := shared.holds(src, d); got != want {
				t.Errorf("step %d, deal %s, %q: %v after the deals before it, %v alone", step, d.ID, src, got, want)
			}
		}
	}
	// The answers themselves, so that a runner wrong from the start is
	// caught too.
	var r exprRunner
	for _, c := range []struct {
		d    *funnelwatch.Deal
		src  string
		want bool
	}{
		{paid, exprs[0], true}, {unpaid, exprs[0], false}, {paid, exprs[1], true}, {unpaid, exprs[1], false},
		{lost, exprs[3], true}, {unpaid, exprs[4], true}, {lost, exprs[4], true}, {paid, exprs[4], false},
		{unpaid, exprs[5], true}, {paid, exprs[5], false}, {paid, exprs[6], false},
	} {
		if got := r.holds(c.src, c.d); got != c.want {
			t.Errorf("deal %s, %q: %v, want %v", c.d.ID, c.src, got, c.want)
		}
	}
	// A deal changed in place between two evaluations is seen as it is.
	d := *unpaid
	if r.holds(exprs[1], &d) {
		t.Fatalf("%q holds for an amount of 5000", exprs[1])
	}
	d.Amount = 150000
	d.Stage = "ready"
	if !r.holds(exprs[1], &d) || r.holds(`deal.stage == "contact"`, &d) {
		t.Errorf("the deal's new amount or stage was not seen")
	}
}
