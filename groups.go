package funnelwatch

import (
	"context"
	"time"
)

// ViolationCounter is what a ReadTx has when it counts findings in groups
// without reading them (both stores do); GroupViolations and
// CountViolationDeals read the findings instead when it does not.
type ViolationCounter interface {
	// ViolationGroups counts the findings the filter selects (its Offset
	// and Limit ignored) by pipeline, stage, user, rule, severity and
	// what g adds, in no particular order.
	ViolationGroups(ctx context.Context, f ViolationFilter, g ViolationGrouping) ([]ViolationGroup, error)
	// CountViolationDeals counts the distinct deals of the findings the
	// filter selects (findings about no deal do not count).
	CountViolationDeals(ctx context.Context, f ViolationFilter) (int, error)
}

// GroupViolations counts the filter's findings in groups: with tx's
// ViolationGroups when it has one, else from its Violations — the scan
// the grouped count must equal.
func GroupViolations(ctx context.Context, tx ReadTx, f ViolationFilter, g ViolationGrouping) ([]ViolationGroup, error) {
	if c, ok := tx.(ViolationCounter); ok {
		return c.ViolationGroups(ctx, f, g)
	}
	f.Offset, f.Limit = 0, 0
	vs, err := tx.Violations(ctx, f)
	if err != nil {
		return nil, err
	}
	return GroupViolationList(vs, g), nil
}

// GroupViolationList groups findings as ViolationGroups does, in order of
// first appearance.
func GroupViolationList(vs []*Violation, g ViolationGrouping) []ViolationGroup {
	type key struct {
		pipeline, stage, user, rule, deal string
		severity                          Severity
		day                               int
	}
	index := map[key]int{}
	var out []ViolationGroup
	for _, v := range vs {
		k := key{pipeline: v.Pipeline, stage: v.Stage, user: v.User, rule: v.Rule, severity: v.Severity}
		if len(g.Days) >= 2 {
			k.day = dayOf(v.OpenedAt, g.Days)
		}
		if g.ByDeal {
			k.deal = v.DealID
		}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, ViolationGroup{Pipeline: k.pipeline, Stage: k.stage, User: k.user, Rule: k.rule, Severity: k.severity,
				Day: k.day, DealID: k.deal, MaxMoneyAtRisk: v.MoneyAtRisk, LatestOpenedAt: v.OpenedAt})
		}
		x := &out[i]
		x.Findings++
		x.MaxMoneyAtRisk = max(x.MaxMoneyAtRisk, v.MoneyAtRisk)
		if v.OpenedAt.After(x.LatestOpenedAt) {
			x.LatestOpenedAt = v.OpenedAt
		}
	}
	return out
}

// dayOf is the index i of the day [days[i], days[i+1]) holding t, -1
// outside them.
func dayOf(t time.Time, days []time.Time) int {
	if t.Before(days[0]) {
		return -1
	}
	for i := 1; i < len(days); i++ {
		if t.Before(days[i]) {
			return i - 1
		}
	}
	return -1
}

// CountViolationDeals counts the distinct deals of the filter's findings:
// with tx's CountViolationDeals when it has one, else from its
// Violations.
func CountViolationDeals(ctx context.Context, tx ReadTx, f ViolationFilter) (int, error) {
	if c, ok := tx.(ViolationCounter); ok {
		return c.CountViolationDeals(ctx, f)
	}
	f.Offset, f.Limit = 0, 0
	vs, err := tx.Violations(ctx, f)
	if err != nil {
		return 0, err
	}
	deals := map[string]bool{}
	for _, v := range vs {
		if v.DealID != "" {
			deals[v.DealID] = true
		}
	}
	return len(deals), nil
}
