package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/funnelwatch/funnelwatch"
)

// InsertEvent appends e to the log unless its id is already there.
func (tx *Tx) InsertEvent(ctx context.Context, e *funnelwatch.Event) (bool, error) {
	seq := e.Seq
	e.Seq = 0
	payload, err := json.Marshal(e)
	e.Seq = seq
	if err != nil {
		return false, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	dealID := e.DealID
	if dealID == "" {
		dealID = e.DealRef()
	}
	taskID := e.TaskID
	if taskID == "" && e.Task != nil {
		taskID = e.Task.ID
	}
	row, err := tx.queryRow(ctx, `INSERT INTO events (workspace_id, id, type, at, received_at, deal_id, task_id, actor, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, id) DO NOTHING RETURNING seq`,
		tx.ws, e.ID, string(e.Type), micros(e.At), micros(e.ReceivedAt), dealID, taskID, e.Actor, string(payload))
	if err != nil {
		return false, err
	}
	switch err := row.Scan(&e.Seq); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("insert event %s: %w", e.ID, err)
	}
	return true, nil
}

// ExistingEventIDs returns which ids are already in the log.
func (tx *Tx) ExistingEventIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	found := map[string]bool{}
	const chunk = 500 // stays under SQLite's default host-parameter limit
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		part := ids[:n]
		ids = ids[n:]
		args := make([]any, 0, n+1)
		args = append(args, tx.ws)
		for _, id := range part {
			args = append(args, id)
		}
		q := `SELECT id FROM events WHERE workspace_id = ? AND id IN (?` + strings.Repeat(", ?", n-1) + `)`
		rows, err := tx.tx.QueryContext(ctx, tx.s.q(q), args...)
		if err != nil {
			return nil, fmt.Errorf("existing events: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			found[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// Events lists events in (at, seq) order.
func (tx *Tx) Events(ctx context.Context, f funnelwatch.EventFilter) ([]funnelwatch.Event, error) {
	where := []string{"workspace_id = ?"}
	args := []any{tx.ws}
	if f.DealID != "" {
		where = append(where, "deal_id = ?")
		args = append(args, f.DealID)
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	if !f.From.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "at < ?")
		args = append(args, micros(f.To))
	}
	q := `SELECT seq, received_at, payload FROM events WHERE ` + strings.Join(where, " AND ") + ` ORDER BY at, seq`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := tx.tx.QueryContext(ctx, tx.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []funnelwatch.Event
	for rows.Next() {
		var seq, received int64
		var payload string
		if err := rows.Scan(&seq, &received, &payload); err != nil {
			return nil, err
		}
		var e funnelwatch.Event
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			return nil, fmt.Errorf("decode stored event %d: %w", seq, err)
		}
		e.Seq = seq
		e.ReceivedAt = fromMicros(received)
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventCount counts the workspace's events.
func (tx *Tx) EventCount(ctx context.Context) (int64, error) {
	row, err := tx.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE workspace_id = ?`, tx.ws)
	if err != nil {
		return 0, err
	}
	var n int64
	return n, row.Scan(&n)
}
