package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
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
	var out []*funnelwatch.Task
	err := chunked(ids, func(part []string) error {
		where := []string{"workspace_id = ?"}
		args := []any{tx.ws}
		if part != nil {
			where = append(where, col+" IN "+placeholders(1, len(part)))
			for _, id := range part {
				args = append(args, id)
			}
		}
		if len(f.IDs) > 0 && len(f.DealIDs) > 0 {
			return fmt.Errorf("tasks: filter by IDs or DealIDs, not both")
		}
		if f.DealID != "" {
			where = append(where, "deal_id = ?")
			args = append(args, f.DealID)
		}
		if f.Assignee != "" {
			where = append(where, "assignee = ?")
			args = append(args, f.Assignee)
		}
		if f.Open != nil {
			if *f.Open {
				where = append(where, "completed_at IS NULL")
			} else {
				where = append(where, "completed_at IS NOT NULL")
			}
		}
		q := `SELECT ` + taskColumns + ` FROM tasks WHERE ` + strings.Join(where, " AND ") +
			` ORDER BY CASE WHEN due IS NULL THEN 1 ELSE 0 END, due, id` + limitClause(f.Offset, f.Limit)
		rows, err := tx.run.QueryContext(ctx, tx.s.q(q), args...)
		if err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
		tasks, err := scanTasks(rows)
		out = append(out, tasks...)
		return err
	})
	return out, err
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
