package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// The dashboard's counts: the findings of the quality report grouped in
// SQL (on the covering indexes of migration 0007, so no finding's row is
// read), and the workload's two counts.

// ViolationGroups counts the findings of the filter by pipeline, stage,
// user, rule and severity, and by day and deal as g asks. "Open at an
// instant" runs as two ranges — still open and opened by then, resolved
// after it and opened by then — so each reads an index range rather
// than every finding opened before the instant.
func (tx *Tx) ViolationGroups(ctx context.Context, f funnelwatch.ViolationFilter, g funnelwatch.ViolationGrouping) ([]funnelwatch.ViolationGroup, error) {
	f.Offset, f.Limit = 0, 0
	if f.OpenAt.IsZero() {
		return tx.violationGroups(ctx, f, "", nil, g, nil)
	}
	at := micros(f.OpenAt)
	f.OpenAt = time.Time{}
	out, err := tx.violationGroups(ctx, f, "resolved_at IS NULL AND opened_at <= ?", []any{at}, g, nil)
	if err != nil {
		return nil, err
	}
	return tx.violationGroups(ctx, f, "resolved_at IS NOT NULL AND resolved_at > ? AND opened_at <= ?", []any{at, at}, g, out)
}

type groupKey struct {
	pipeline, stage, user, rule, severity, deal string
	day                                         int
}

// violationGroups runs one grouped query and merges its groups into
// into (whose order it keeps).
func (tx *Tx) violationGroups(ctx context.Context, f funnelwatch.ViolationFilter, cond string, condArgs []any, g funnelwatch.ViolationGrouping,
	into []funnelwatch.ViolationGroup) ([]funnelwatch.ViolationGroup, error) {
	where, args := tx.groupWhere(f)
	if cond != "" {
		where += " AND " + cond
		args = append(args, condArgs...)
	}
	cols := "pipeline_id, stage_id, user_id, rule, severity"
	var selArgs []any
	if len(g.Days) >= 2 {
		// The day of opening: a CASE over the days' bounds, exact in
		// every timezone (a day is 23 or 25 hours around a DST change).
		var b strings.Builder
		b.WriteString("CASE WHEN opened_at < ? THEN -1")
		selArgs = append(selArgs, micros(g.Days[0]))
		for i := 1; i < len(g.Days); i++ {
			fmt.Fprintf(&b, " WHEN opened_at < ? THEN %d", i-1)
			selArgs = append(selArgs, micros(g.Days[i]))
		}
		b.WriteString(" ELSE -1 END")
		cols += ", " + b.String()
	} else {
		cols += ", 0"
	}
	if g.ByDeal {
		cols += ", deal_id"
	} else {
		cols += ", ''"
	}
	q := `SELECT ` + cols + `, COUNT(*), MAX(money_at_risk), MAX(opened_at) FROM violations WHERE ` + where +
		` GROUP BY 1, 2, 3, 4, 5, 6, 7`
	rows, err := tx.run.QueryContext(ctx, tx.s.q(q), append(selArgs, args...)...)
	if err != nil {
		return nil, fmt.Errorf("violation groups: %w", err)
	}
	defer rows.Close()
	index := make(map[groupKey]int, len(into))
	for i, x := range into {
		index[groupKey{x.Pipeline, x.Stage, x.User, x.Rule, string(x.Severity), x.DealID, x.Day}] = i
	}
	for rows.Next() {
		var x funnelwatch.ViolationGroup
		var severity string
		var latest int64
		var money sql.NullFloat64
		if err := rows.Scan(&x.Pipeline, &x.Stage, &x.User, &x.Rule, &severity, &x.Day, &x.DealID, &x.Findings, &money, &latest); err != nil {
			return nil, fmt.Errorf("violation groups: %w", err)
		}
		x.Severity, x.MaxMoneyAtRisk, x.LatestOpenedAt = funnelwatch.Severity(severity), money.Float64, fromMicros(latest)
		k := groupKey{x.Pipeline, x.Stage, x.User, x.Rule, severity, x.DealID, x.Day}
		i, ok := index[k]
		if !ok {
			index[k] = len(into)
			into = append(into, x)
			continue
		}
		y := &into[i]
		y.Findings += x.Findings
		y.MaxMoneyAtRisk = max(y.MaxMoneyAtRisk, x.MaxMoneyAtRisk)
		if x.LatestOpenedAt.After(y.LatestOpenedAt) {
			y.LatestOpenedAt = x.LatestOpenedAt
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("violation groups: %w", err)
	}
	return into, nil
}

// groupWhere is violationWhere for the grouped counts. SQLite, given
// the users of a team, would read the findings through violations_user
// (by user, then time) and look up each finding's row; "+user_id" keeps
// the user out of the index choice, so the time range of a covering index
// is read and the users filtered in it.
func (tx *Tx) groupWhere(f funnelwatch.ViolationFilter) (string, []any) {
	where, args := tx.violationWhere(f)
	if tx.s.dialect == SQLite {
		where = strings.Replace(where, "user_id = ?", "+user_id = ?", 1)
		where = strings.Replace(where, "user_id IN ", "+user_id IN ", 1)
	}
	return where, args
}

// CountViolationDeals counts the distinct deals of the filter's findings.
func (tx *Tx) CountViolationDeals(ctx context.Context, f funnelwatch.ViolationFilter) (int, error) {
	where, args := tx.groupWhere(f)
	var n int
	if err := tx.run.QueryRowContext(ctx, tx.s.q(`SELECT COUNT(DISTINCT deal_id) FROM violations WHERE `+where+
		` AND deal_id <> ''`), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count violation deals: %w", err)
	}
	return n, nil
}

// DealsWithoutOpenTask counts the open deals of the responsibles without
// an open task: the partial indexes deals_open and tasks_open of
// migration 0007 hold exactly the rows it reads.
func (tx *Tx) DealsWithoutOpenTask(ctx context.Context, responsibles []string) (int, error) {
	// The literal 'open' (not a parameter) lets SQLite use the partial
	// index, whose condition must follow from the query's.
	q := `SELECT COUNT(*) FROM deals d WHERE d.workspace_id = ? AND d.status = 'open' AND d.deleted_at IS NULL`
	args := []any{tx.ws}
	if len(responsibles) > 0 {
		q += ` AND d.responsible IN ` + placeholders(1, len(responsibles))
		args = append(args, anys(responsibles)...)
	}
	q += ` AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.workspace_id = d.workspace_id AND t.deal_id = d.id AND t.completed_at IS NULL)`
	var n int
	if err := tx.run.QueryRowContext(ctx, tx.s.q(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("deals without an open task: %w", err)
	}
	return n, nil
}

// OverdueTasks counts the assignees' open tasks due before now.
func (tx *Tx) OverdueTasks(ctx context.Context, assignees []string, now time.Time) (int, error) {
	q := `SELECT COUNT(*) FROM tasks WHERE workspace_id = ? AND completed_at IS NULL AND due IS NOT NULL AND due < ?`
	args := []any{tx.ws, micros(now)}
	if len(assignees) > 0 {
		q += ` AND assignee IN ` + placeholders(1, len(assignees))
		args = append(args, anys(assignees)...)
	}
	var n int
	if err := tx.run.QueryRowContext(ctx, tx.s.q(q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("overdue tasks: %w", err)
	}
	return n, nil
}

var _ funnelwatch.ViolationCounter = (*Tx)(nil)
