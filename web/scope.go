package web

import (
	"context"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/auth"
)

// scopedTx narrows the reads a page makes to a user's scope, so the
// dashboard runs report.Quality — the API's code — on only the findings
// and active deals the user may see. The scope is a filter in SQL (the
// user, or the team's users); a user outside it selects nothing.
type scopedTx struct {
	funnelwatch.ReadTx
	scope auth.Scope
}

func scoped(tx funnelwatch.ReadTx, s auth.Scope) funnelwatch.ReadTx {
	if s.All() {
		return tx
	}
	return scopedTx{tx, s}
}

// violations narrows a findings filter to the scope; false when it
// selects nobody the scope sees.
func (tx scopedTx) violations(f funnelwatch.ViolationFilter) (funnelwatch.ViolationFilter, bool) {
	if f.User != "" {
		return f, tx.scope.Sees(f.User)
	}
	f.Users = tx.users(f.Users)
	return f, len(f.Users) > 0
}

// orAll is the asked users, or the scope's when none were asked.
func orAll(asked, scope []string) []string {
	if len(asked) > 0 {
		return asked
	}
	return scope
}

// Violations lists the findings of the filter within the scope.
func (tx scopedTx) Violations(ctx context.Context, f funnelwatch.ViolationFilter) ([]*funnelwatch.Violation, error) {
	f, ok := tx.violations(f)
	if !ok {
		return nil, nil
	}
	return tx.ReadTx.Violations(ctx, f)
}

// CountViolations counts the findings of the filter within the scope.
func (tx scopedTx) CountViolations(ctx context.Context, f funnelwatch.ViolationFilter) (int, error) {
	f, ok := tx.violations(f)
	if !ok {
		return 0, nil
	}
	return tx.ReadTx.CountViolations(ctx, f)
}

// ActiveDeals counts the active deals of the scope's users.
func (tx scopedTx) ActiveDeals(ctx context.Context, from, to time.Time) (funnelwatch.ActiveDeals, error) {
	a, err := tx.ReadTx.ActiveDeals(ctx, from, to)
	if err != nil {
		return a, err
	}
	out := funnelwatch.ActiveDeals{ByResponsible: map[string]int{}}
	for u, n := range a.ByResponsible {
		if tx.scope.Sees(u) {
			out.ByResponsible[u] = n
			out.Total += n
		}
	}
	return out, nil
}

// Deals lists the deals of the filter whose responsible is in the scope.
func (tx scopedTx) Deals(ctx context.Context, f funnelwatch.DealFilter) ([]*funnelwatch.Deal, error) {
	f, ok := tx.deals(f)
	if !ok {
		return nil, nil
	}
	return tx.ReadTx.Deals(ctx, f)
}

// DealCounts counts the deals of the filter whose responsible is in the
// scope.
func (tx scopedTx) DealCounts(ctx context.Context, f funnelwatch.DealFilter) ([]funnelwatch.StageCount, error) {
	f, ok := tx.deals(f)
	if !ok {
		return nil, nil
	}
	return tx.ReadTx.DealCounts(ctx, f)
}

// deals narrows a deals filter to the scope; false when it selects
// nobody the scope sees.
func (tx scopedTx) deals(f funnelwatch.DealFilter) (funnelwatch.DealFilter, bool) {
	if f.Responsible != "" {
		return f, tx.scope.Sees(f.Responsible)
	}
	f.Responsibles = tx.users(f.Responsibles)
	return f, len(f.Responsibles) > 0
}

// Tasks lists the tasks of the filter whose assignee is in the scope.
func (tx scopedTx) Tasks(ctx context.Context, f funnelwatch.TaskFilter) ([]*funnelwatch.Task, error) {
	f, ok := tx.tasks(f)
	if !ok {
		return nil, nil
	}
	return tx.ReadTx.Tasks(ctx, f)
}

// CountTasks counts the tasks of the filter whose assignee is in the
// scope.
func (tx scopedTx) CountTasks(ctx context.Context, f funnelwatch.TaskFilter) (int, error) {
	f, ok := tx.tasks(f)
	if !ok {
		return 0, nil
	}
	return tx.ReadTx.CountTasks(ctx, f)
}

// tasks narrows a tasks filter to the scope; false when it selects
// nobody the scope sees.
func (tx scopedTx) tasks(f funnelwatch.TaskFilter) (funnelwatch.TaskFilter, bool) {
	if f.Assignee != "" {
		return f, tx.scope.Sees(f.Assignee)
	}
	f.Assignees = tx.users(f.Assignees)
	return f, len(f.Assignees) > 0
}

// ViolationGroups counts the findings of the filter within the scope.
func (tx scopedTx) ViolationGroups(ctx context.Context, f funnelwatch.ViolationFilter, g funnelwatch.ViolationGrouping) ([]funnelwatch.ViolationGroup, error) {
	f, ok := tx.violations(f)
	if !ok {
		return nil, nil
	}
	return funnelwatch.GroupViolations(ctx, tx.ReadTx, f, g)
}

// CountViolationDeals counts the deals of the findings within the scope.
func (tx scopedTx) CountViolationDeals(ctx context.Context, f funnelwatch.ViolationFilter) (int, error) {
	f, ok := tx.violations(f)
	if !ok {
		return 0, nil
	}
	return funnelwatch.CountViolationDeals(ctx, tx.ReadTx, f)
}

// users is the asked users (the scope's when none) the scope sees.
func (tx scopedTx) users(asked []string) []string {
	var users []string
	for _, u := range orAll(asked, tx.scope.Users()) {
		if tx.scope.Sees(u) {
			users = append(users, u)
		}
	}
	return users
}

// DealsWithoutOpenTask counts the scope's open deals without an open task.
func (tx scopedTx) DealsWithoutOpenTask(ctx context.Context, responsibles []string) (int, error) {
	users := tx.users(responsibles)
	if len(users) == 0 {
		return 0, nil
	}
	return tx.ReadTx.DealsWithoutOpenTask(ctx, users)
}

// OverdueTasks counts the scope's overdue tasks.
func (tx scopedTx) OverdueTasks(ctx context.Context, assignees []string, now time.Time) (int, error) {
	users := tx.users(assignees)
	if len(users) == 0 {
		return 0, nil
	}
	return tx.ReadTx.OverdueTasks(ctx, users, now)
}

// scopeKey names a scope's reach for the kept figures: the same users
// see the same figures, whoever asks.
func scopeKey(s auth.Scope) string {
	if s.All() {
		return "*"
	}
	return strings.Join(s.Users(), ",")
}
