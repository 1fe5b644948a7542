package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/funnelwatch/funnelwatch"
)

const taskColumns = `id, deal_id, assignee, kind, text, due, created_at, created_by, completed_at, result, deleted, reschedules`

var taskCols = strings.Split(strings.Join(strings.Fields(taskColumns), ""), ",")

// SaveTasks upserts the tasks' states.
func (tx *Tx) SaveTasks(ctx context.Context, tasks ...*funnelwatch.Task) error {
	rows := make([][]any, 0, len(tasks))
	for _, t := range tasks {
		rows = append(rows, []any{t.ID, t.DealID, t.Assignee, t.Kind, t.Text, microsPtr(t.Due), micros(t.CreatedAt),
			t.CreatedBy, microsPtr(t.CompletedAt), t.Result, boolInt(t.Deleted), t.Reschedules})
	}
	if err := tx.upsert(ctx, "tasks", taskCols, nil, rows); err != nil {
		return fmt.Errorf("save tasks: %w", err)
	}
	return nil
}

// Task returns one task.
func (tx *Tx) Task(ctx context.Context, id string) (*funnelwatch.Task, error) {
	rows, err := tx.query(ctx, `SELECT `+taskColumns+` FROM tasks WHERE workspace_id = ? AND id = ?`, tx.ws, id)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	tasks, err := scanTasks(rows)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	if len(tasks) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "task %q not found", id)
	}
	return tasks[0], nil
}

// Tasks lists tasks by the filter, by due time then id. With IDs or
// DealIDs, the tasks come in chunks of ids, each so ordered.
func (tx *Tx) Tasks(ctx context.Context, f funnelwatch.TaskFilter) ([]*funnelwatch.Task, error) {
	col, ids := "id", f.IDs
	if len(ids) == 0 {
		col, ids = "deal_id", f.DealIDs
	}
	if len(f.IDs) > 0 && len(f.DealIDs) > 0 {
		return nil, fmt.Errorf("tasks: filter by IDs or DealIDs, not both")
	}
	// A group of the tasks page (no due time, or a due range) is chosen
	// on an index of open tasks in its order, and put in the same order
	// here (see below).
	order := ` ORDER BY CASE WHEN due IS NULL THEN 1 ELSE 0 END, due, id`
	var sortBy func(a, b *funnelwatch.Task) int
	switch {
	case f.NoDue:
		order = ` ORDER BY assignee, id` // tasks_open_nodue's
		sortBy = func(a, b *funnelwatch.Task) int {
			return cmp.Or(strings.Compare(a.Assignee, b.Assignee), strings.Compare(a.ID, b.ID))
		}
	case !f.DueFrom.IsZero() || !f.DueBefore.IsZero():
		order = ` ORDER BY due, id` // tasks_open_due's
		sortBy = func(a, b *funnelwatch.Task) int { return cmp.Or(a.Due.Compare(*b.Due), strings.Compare(a.ID, b.ID)) }
	}
	var out []*funnelwatch.Task
	err := chunked(ids, func(part []string) error {
		c := tx.taskWhere(f)
		if part != nil {
			c.in(col, part)
		}
		where, args := c.sql(), c.args
		q := `SELECT ` + taskColumns + ` FROM tasks WHERE ` + where + order + limitClause(f.Offset, f.Limit)
		if sortBy != nil {
			// The ids chosen on the open tasks' index, the rows read for
			// them alone, and put in order here: ordered in SQL, SQLite
			// would walk an index in that order rather than look the ids
			// up.
			q = `SELECT ` + taskColumns + ` FROM tasks WHERE workspace_id = ? AND id IN (SELECT id FROM tasks WHERE ` +
				where + order + limitClause(f.Offset, f.Limit) + `)`
			args = append([]any{tx.ws}, args...)
		}
		rows, err := tx.run.QueryContext(ctx, tx.s.q(q), args...)
		if err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
		tasks, err := scanTasks(rows)
		if sortBy != nil {
			slices.SortFunc(tasks, sortBy)
		}
		out = append(out, tasks...)
		return err
	})
	return out, err
}

// CountTasks counts the tasks of the filter.
func (tx *Tx) CountTasks(ctx context.Context, f funnelwatch.TaskFilter) (int, error) {
	c := tx.taskWhere(f)
	var n int
	if err := tx.run.QueryRowContext(ctx, tx.s.q(`SELECT COUNT(*) FROM tasks WHERE `+c.sql()), c.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}

// taskWhere is the filter, its ids aside, as a WHERE condition. The conditions of the partial indexes of open tasks are
// written as they are (SQLite uses a partial index only when the query's
// condition implies the index's).
func (tx *Tx) taskWhere(f funnelwatch.TaskFilter) *conds {
	c := tx.conds()
	add := c.add
	if f.DealID != "" {
		add("deal_id = ?", f.DealID)
	}
	if f.Assignee != "" {
		add("assignee = ?", f.Assignee)
	}
	if len(f.Assignees) > 0 {
		c.in("assignee", f.Assignees)
	}
	if f.Open != nil {
		if *f.Open {
			add("completed_at IS NULL")
		} else {
			add("completed_at IS NOT NULL")
		}
	}
	if f.NoDue {
		add("due IS NULL")
	}
	if !f.DueFrom.IsZero() || !f.DueBefore.IsZero() {
		add("due IS NOT NULL")
	}
	if !f.DueFrom.IsZero() {
		add("due >= ?", micros(f.DueFrom))
	}
	if !f.DueBefore.IsZero() {
		add("due < ?", micros(f.DueBefore))
	}
	return c
}

func scanTasks(rows *sql.Rows) ([]*funnelwatch.Task, error) {
	defer rows.Close()
	var out []*funnelwatch.Task
	for rows.Next() {
		var t funnelwatch.Task
		var due, completed sql.NullInt64
		var created int64
		var deleted int
		if err := rows.Scan(&t.ID, &t.DealID, &t.Assignee, &t.Kind, &t.Text, &due, &created, &t.CreatedBy,
			&completed, &t.Result, &deleted, &t.Reschedules); err != nil {
			return nil, err
		}
		t.Due, t.CompletedAt = fromNullMicros(due), fromNullMicros(completed)
		t.CreatedAt = fromMicros(created)
		t.Deleted = deleted != 0
		out = append(out, &t)
	}
	return out, rows.Err()
}
