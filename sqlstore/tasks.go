package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/funnelwatch/funnelwatch"
)

const taskColumns = `id, deal_id, assignee, kind, text, due, created_at, created_by, completed_at, result, deleted, reschedules`

// SaveTask upserts the task's state.
func (tx *Tx) SaveTask(ctx context.Context, t *funnelwatch.Task) error {
	_, err := tx.exec(ctx, `INSERT INTO tasks (workspace_id, `+taskColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace_id, id) DO UPDATE SET
			deal_id = excluded.deal_id, assignee = excluded.assignee, kind = excluded.kind, text = excluded.text,
			due = excluded.due, created_at = excluded.created_at, created_by = excluded.created_by,
			completed_at = excluded.completed_at, result = excluded.result, deleted = excluded.deleted,
			reschedules = excluded.reschedules`,
		tx.ws, t.ID, t.DealID, t.Assignee, t.Kind, t.Text, microsPtr(t.Due), micros(t.CreatedAt), t.CreatedBy,
		microsPtr(t.CompletedAt), t.Result, boolInt(t.Deleted), t.Reschedules)
	if err != nil {
		return fmt.Errorf("save task %s: %w", t.ID, err)
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

// Tasks lists tasks by the filter, by due time then id.
func (tx *Tx) Tasks(ctx context.Context, f funnelwatch.TaskFilter) ([]*funnelwatch.Task, error) {
	where := []string{"workspace_id = ?"}
	args := []any{tx.ws}
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
	rows, err := tx.tx.QueryContext(ctx, tx.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	return scanTasks(rows)
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
