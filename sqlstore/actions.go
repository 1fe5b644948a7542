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

const actionColumns = `key, type, rule, deal_id, at, payload, status, attempts, next_attempt_at, last_error, done_at`

// actionWidth is the parameters of one action row: workspace_id and the
// columns.
var actionWidth = 1 + len(strings.Split(actionColumns, ","))

// InsertActions adds the actions whose keys are not in the outbox yet
// with multi-row INSERT … ON CONFLICT DO NOTHING statements; RETURNING
// names the rows each one inserted, in both dialects. A nil or null
// Payload is stored as {} and read back as {}.
func (tx *Tx) InsertActions(ctx context.Context, as ...*funnelwatch.ActionRecord) ([]bool, error) {
	isNew := make([]bool, len(as))
	// Of a key repeated in the call only the first may be new, and one
	// statement may not name a row twice: the repeats are left out.
	first := make(map[string]int, len(as))
	rows := make([][]any, 0, len(as))
	for i, a := range as {
		if _, ok := first[a.Key]; ok {
			continue
		}
		first[a.Key] = i
		payload, err := jsonText(a.Payload)
		if err != nil {
			return nil, funnelwatch.Errorf(funnelwatch.EINVALID, "payload of action %s: %v", a.Key, err)
		}
		rows = append(rows, []any{a.Key, a.Type, a.Rule, a.DealID, micros(a.At), payload, string(a.Status), a.Attempts,
			microsOrZero(a.NextAttemptAt), a.LastError, microsPtr(a.DoneAt)})
	}
	per := maxParams / actionWidth
	args := make([]any, 0, min(len(rows), per)*actionWidth)
	for len(rows) > 0 {
		n := chunkSize(len(rows), per)
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, tx.ws)
			args = append(args, r...)
		}
		rows = rows[n:]
		keys, err := tx.insertReturningKeys(ctx, `INSERT INTO actions (workspace_id, `+actionColumns+`) VALUES `+
			placeholders(n, actionWidth)+` ON CONFLICT (workspace_id, key) DO NOTHING RETURNING key`, args)
		if err != nil {
			return nil, fmt.Errorf("insert actions: %w", err)
		}
		for _, k := range keys {
			isNew[first[k]] = true
		}
	}
	return isNew, nil
}

// insertReturningKeys runs an INSERT … RETURNING key and returns the keys.
func (tx *Tx) insertReturningKeys(ctx context.Context, q string, args []any) ([]string, error) {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// UpdateAction writes the delivery columns of the action with a.Key; its
// type, payload and times of decision stay as inserted.
func (tx *Tx) UpdateAction(ctx context.Context, a *funnelwatch.ActionRecord) error {
	res, err := tx.exec(ctx, `UPDATE actions SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, done_at = ?
		WHERE workspace_id = ? AND key = ?`,
		string(a.Status), a.Attempts, microsOrZero(a.NextAttemptAt), a.LastError, microsPtr(a.DoneAt), tx.ws, a.Key)
	if err != nil {
		return fmt.Errorf("update action %s: %w", a.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update action %s: %w", a.Key, err)
	}
	if n == 0 {
		return funnelwatch.Errorf(funnelwatch.ENOTFOUND, "action %q not found", a.Key)
	}
	return nil
}

// Action returns the action with the key.
func (tx *Tx) Action(ctx context.Context, key string) (*funnelwatch.ActionRecord, error) {
	rows, err := tx.query(ctx, `SELECT `+actionColumns+` FROM actions WHERE workspace_id = ? AND key = ?`, tx.ws, key)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", key, err)
	}
	as, err := scanActions(rows)
	if err != nil {
		return nil, fmt.Errorf("action %s: %w", key, err)
	}
	if len(as) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "action %q not found", key)
	}
	return as[0], nil
}

// Actions lists actions by the filter, in (at, key) order, or with DueBy
// the pending ones due by then in (next_attempt_at, key) order.
func (tx *Tx) Actions(ctx context.Context, f funnelwatch.ActionFilter) ([]*funnelwatch.ActionRecord, error) {
	where := []string{"workspace_id = ?"}
	args := []any{tx.ws}
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.DealID != "" {
		add("deal_id = ?", f.DealID)
	}
	if f.Rule != "" {
		add("rule = ?", f.Rule)
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	order := ` ORDER BY at, key`
	if !f.DueBy.IsZero() {
		// A pending action without a next attempt is stored with 0: due.
		add("status = ?", string(funnelwatch.ActionPending))
		add("next_attempt_at <= ?", micros(f.DueBy))
		order = ` ORDER BY next_attempt_at, key`
	}
	page, pargs := pageClause(f.Offset, f.Limit)
	rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT `+actionColumns+` FROM actions WHERE `+
		strings.Join(where, " AND ")+order+page), append(args, pargs...)...)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	as, err := scanActions(rows)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	return as, nil
}

// ActionCounts counts the outbox's actions by status.
func (tx *Tx) ActionCounts(ctx context.Context) (map[funnelwatch.ActionStatus]int, error) {
	rows, err := tx.query(ctx, `SELECT status, COUNT(*) FROM actions WHERE workspace_id = ? GROUP BY status`, tx.ws)
	if err != nil {
		return nil, fmt.Errorf("action counts: %w", err)
	}
	defer rows.Close()
	out := map[funnelwatch.ActionStatus]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("action counts: %w", err)
		}
		out[funnelwatch.ActionStatus(status)] = n
	}
	return out, rows.Err()
}

func scanActions(rows *sql.Rows) ([]*funnelwatch.ActionRecord, error) {
	defer rows.Close()
	var out []*funnelwatch.ActionRecord
	for rows.Next() {
		var a funnelwatch.ActionRecord
		var payload, status string
		var at, next int64
		var done sql.NullInt64
		if err := rows.Scan(&a.Key, &a.Type, &a.Rule, &a.DealID, &at, &payload, &status, &a.Attempts, &next,
			&a.LastError, &done); err != nil {
			return nil, err
		}
		a.At, a.NextAttemptAt, a.DoneAt = fromMicros(at), fromMicrosOrZero(next), fromNullMicros(done)
		a.Payload = json.RawMessage(payload)
		a.Status = funnelwatch.ActionStatus(status)
		out = append(out, &a)
	}
	return out, rows.Err()
}

// EngineState returns the engine's checkpoint, zero when it has none.
func (tx *Tx) EngineState(ctx context.Context) (funnelwatch.EngineState, error) {
	var s funnelwatch.EngineState
	row, err := tx.queryRow(ctx, `SELECT seq, clock, observe_until FROM engine_state WHERE workspace_id = ?`, tx.ws)
	if err != nil {
		return s, fmt.Errorf("engine state: %w", err)
	}
	var clock, observe int64
	switch err := row.Scan(&s.Seq, &clock, &observe); {
	case errors.Is(err, sql.ErrNoRows):
		return funnelwatch.EngineState{}, nil
	case err != nil:
		return s, fmt.Errorf("engine state: %w", err)
	}
	s.Clock, s.ObserveUntil = fromMicrosOrZero(clock), fromMicrosOrZero(observe)
	return s, nil
}

// SetEngineState records the engine's checkpoint.
func (tx *Tx) SetEngineState(ctx context.Context, s funnelwatch.EngineState) error {
	_, err := tx.exec(ctx, `INSERT INTO engine_state (workspace_id, seq, clock, observe_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq, clock = excluded.clock, observe_until = excluded.observe_until`,
		tx.ws, s.Seq, microsOrZero(s.Clock), microsOrZero(s.ObserveUntil))
	if err != nil {
		return fmt.Errorf("set engine state: %w", err)
	}
	return nil
}
