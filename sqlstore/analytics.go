package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// The reads of the funnel and managers reports. Each bounds its rows by a
// range of an index of migration 0004, so a period costs the rows of the
// period, not of the table.

var visitCols = []string{"deal_id", "pipeline_id", "stage_id", "entered_at", "left_at", "next_pipeline", "next_stage", "responsible"}

// SaveStageVisits adds the visits not stored and closes the stored ones
// the given visits close. Several visits with one key are merged first (a
// multi-row upsert may not touch a row twice): the closed one wins.
func (tx *Tx) SaveStageVisits(ctx context.Context, visits ...*funnelwatch.StageVisit) error {
	if len(visits) == 0 {
		return nil
	}
	type key struct {
		deal, pipeline, stage string
		entered               int64
	}
	pos := map[key]int{}
	merged := make([]*funnelwatch.StageVisit, 0, len(visits))
	for _, v := range visits {
		k := key{v.DealID, v.Pipeline, v.Stage, micros(v.Entered)}
		i, ok := pos[k]
		if !ok {
			pos[k] = len(merged)
			merged = append(merged, v)
			continue
		}
		if v.Left != nil {
			m := *merged[i]
			m.Left, m.NextPipeline, m.NextStage = v.Left, v.NextPipeline, v.NextStage
			merged[i] = &m
		}
	}
	width := len(visitCols) + 1
	per := max(1, maxParams/width)
	head := `INSERT INTO stage_visits (workspace_id, ` + strings.Join(visitCols, ", ") + `) VALUES `
	// An end is written when the given visit has one; a stored end is
	// never taken back (a visit does not reopen).
	tail := ` ON CONFLICT (workspace_id, deal_id, entered_at, pipeline_id, stage_id) DO UPDATE SET
		left_at = COALESCE(excluded.left_at, stage_visits.left_at),
		next_pipeline = CASE WHEN excluded.left_at IS NULL THEN stage_visits.next_pipeline ELSE excluded.next_pipeline END,
		next_stage = CASE WHEN excluded.left_at IS NULL THEN stage_visits.next_stage ELSE excluded.next_stage END`
	for len(merged) > 0 {
		n := chunkSize(len(merged), per)
		args := make([]any, 0, n*width)
		for _, v := range merged[:n] {
			args = append(args, tx.ws, v.DealID, v.Pipeline, v.Stage, micros(v.Entered), microsPtr(v.Left),
				v.NextPipeline, v.NextStage, v.Responsible)
		}
		if _, err := tx.exec(ctx, head+placeholders(n, width)+tail, args...); err != nil {
			return fmt.Errorf("save stage visits: %w", err)
		}
		merged = merged[n:]
	}
	return nil
}

// DeleteStageVisits removes the deals' visits.
func (tx *Tx) DeleteStageVisits(ctx context.Context, dealIDs ...string) error {
	if len(dealIDs) == 0 {
		return nil
	}
	return chunked(dealIDs, func(ids []string) error {
		args := []any{tx.ws}
		for _, id := range ids {
			args = append(args, id)
		}
		_, err := tx.run.ExecContext(ctx, tx.s.q(`DELETE FROM stage_visits WHERE workspace_id = ? AND deal_id IN `+placeholders(1, len(ids))), args...)
		if err != nil {
			return fmt.Errorf("delete stage visits: %w", err)
		}
		return nil
	})
}

// StageVisits lists visits by the filter. With DealIDs, the visits come
// in chunks of deals, each in order; the chunks are merged back in order.
func (tx *Tx) StageVisits(ctx context.Context, f funnelwatch.StageVisitFilter) ([]*funnelwatch.StageVisit, error) {
	var out []*funnelwatch.StageVisit
	err := chunked(f.DealIDs, func(ids []string) error {
		where := []string{"workspace_id = ?"}
		args := []any{tx.ws}
		add := func(cond string, v any) {
			where = append(where, cond)
			args = append(args, v)
		}
		if ids != nil {
			where = append(where, "deal_id IN "+placeholders(1, len(ids)))
			for _, id := range ids {
				args = append(args, id)
			}
		}
		if f.Pipeline != "" {
			add("pipeline_id = ?", f.Pipeline)
		}
		if !f.EnteredFrom.IsZero() {
			add("entered_at >= ?", micros(f.EnteredFrom))
		}
		if !f.EnteredTo.IsZero() {
			add("entered_at < ?", micros(f.EnteredTo))
		}
		if !f.LeftFrom.IsZero() || !f.LeftTo.IsZero() {
			where = append(where, "left_at IS NOT NULL")
		}
		if !f.LeftFrom.IsZero() {
			add("left_at >= ?", micros(f.LeftFrom))
		}
		if !f.LeftTo.IsZero() {
			add("left_at < ?", micros(f.LeftTo))
		}
		rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT `+strings.Join(visitCols, ", ")+` FROM stage_visits WHERE `+
			strings.Join(where, " AND ")+` ORDER BY deal_id, entered_at, pipeline_id, stage_id`), args...)
		if err != nil {
			return fmt.Errorf("stage visits: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var v funnelwatch.StageVisit
			var entered int64
			var left sql.NullInt64
			if err := rows.Scan(&v.DealID, &v.Pipeline, &v.Stage, &entered, &left, &v.NextPipeline, &v.NextStage, &v.Responsible); err != nil {
				return fmt.Errorf("stage visits: %w", err)
			}
			v.Entered, v.Left = fromMicros(entered), fromNullMicros(left)
			out = append(out, &v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(f.DealIDs) > inListSize {
		slices.SortStableFunc(out, func(a, b *funnelwatch.StageVisit) int {
			return cmp.Or(cmp.Compare(a.DealID, b.DealID), a.Entered.Compare(b.Entered),
				cmp.Compare(a.Pipeline, b.Pipeline), cmp.Compare(a.Stage, b.Stage))
		})
	}
	return out, nil
}

// ClosedDeals lists the deals closed in [from, to).
func (tx *Tx) ClosedDeals(ctx context.Context, from, to time.Time) ([]*funnelwatch.Deal, error) {
	rows, err := tx.query(ctx, `SELECT `+dealColumns+` FROM deals
		WHERE workspace_id = ? AND closed_at IS NOT NULL AND closed_at >= ? AND closed_at < ?
		ORDER BY closed_at, id`, tx.ws, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("closed deals: %w", err)
	}
	deals, err := scanDeals(rows)
	if err != nil {
		return nil, fmt.Errorf("closed deals: %w", err)
	}
	return deals, nil
}

// CallStats sums the period's calls by user and direction.
func (tx *Tx) CallStats(ctx context.Context, from, to time.Time, minTalk time.Duration) ([]funnelwatch.CallStats, error) {
	// COUNT and a cast: PostgreSQL sums BIGINT into NUMERIC.
	rows, err := tx.query(ctx, `SELECT user_id, direction, COUNT(*), COUNT(CASE WHEN answered <> 0 THEN 1 END),
		COUNT(CASE WHEN answered <> 0 AND duration_s >= ? THEN 1 END),
		CAST(COALESCE(SUM(CASE WHEN answered <> 0 THEN duration_s ELSE 0 END), 0) AS BIGINT)
		FROM calls WHERE workspace_id = ? AND started_at >= ? AND started_at < ?
		GROUP BY user_id, direction ORDER BY user_id, direction`,
		int64(minTalk/time.Second), tx.ws, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("call stats: %w", err)
	}
	defer rows.Close()
	var out []funnelwatch.CallStats
	for rows.Next() {
		var c funnelwatch.CallStats
		if err := rows.Scan(&c.User, &c.Direction, &c.Calls, &c.Answered, &c.Successful, &c.TalkS); err != nil {
			return nil, fmt.Errorf("call stats: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MissedCalls lists the period's missed incoming calls with the moment
// each was returned. The callback is looked up per missed call, on the
// (phone, started_at) or (deal, started_at) index: the calls after it of
// that one client.
func (tx *Tx) MissedCalls(ctx context.Context, from, to time.Time) ([]funnelwatch.MissedCall, error) {
	rows, err := tx.query(ctx, `SELECT c.id, c.user_id, c.deal_id, c.direction, c.phone, c.started_at, c.duration_s,
		c.answered, c.recording_url,
		(SELECT MIN(n.started_at) FROM calls n WHERE n.workspace_id = c.workspace_id AND c.phone <> ''
			AND n.phone = c.phone AND n.started_at > c.started_at AND (n.direction = 'out' OR n.answered <> 0)),
		(SELECT MIN(n.started_at) FROM calls n WHERE n.workspace_id = c.workspace_id AND c.phone = '' AND c.deal_id <> ''
			AND n.deal_id = c.deal_id AND n.started_at > c.started_at AND (n.direction = 'out' OR n.answered <> 0))
		FROM calls c
		WHERE c.workspace_id = ? AND c.started_at >= ? AND c.started_at < ? AND c.direction = 'in' AND c.answered = 0
		ORDER BY c.started_at, c.id`, tx.ws, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("missed calls: %w", err)
	}
	defer rows.Close()
	var out []funnelwatch.MissedCall
	for rows.Next() {
		var m funnelwatch.MissedCall
		c := &m.Call
		var started int64
		var answered int
		var byPhone, byDeal sql.NullInt64
		if err := rows.Scan(&c.ID, &c.User, &c.DealID, &c.Direction, &c.Phone, &started, &c.DurationS,
			&answered, &c.RecordingURL, &byPhone, &byDeal); err != nil {
			return nil, fmt.Errorf("missed calls: %w", err)
		}
		c.StartedAt, c.Answered = fromMicros(started), answered != 0
		if byPhone.Valid {
			m.Returned = fromNullMicros(byPhone)
		} else {
			m.Returned = fromNullMicros(byDeal)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// TaskStats counts the period's tasks by assignee: two ranges, of
// created_at and of due.
func (tx *Tx) TaskStats(ctx context.Context, from, to, end time.Time) ([]funnelwatch.TaskStats, error) {
	by := map[string]*funnelwatch.TaskStats{}
	get := func(u string) *funnelwatch.TaskStats {
		if by[u] == nil {
			by[u] = &funnelwatch.TaskStats{User: u}
		}
		return by[u]
	}
	count := func(q string, args []any, add func(*funnelwatch.TaskStats, int)) error {
		rows, err := tx.query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("task stats: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var u string
			var n int
			if err := rows.Scan(&u, &n); err != nil {
				return fmt.Errorf("task stats: %w", err)
			}
			add(get(u), n)
		}
		return rows.Err()
	}
	err := count(`SELECT assignee, COUNT(*) FROM tasks WHERE workspace_id = ? AND created_at >= ? AND created_at < ?
		GROUP BY assignee`, []any{tx.ws, micros(from), micros(to)}, func(s *funnelwatch.TaskStats, n int) { s.Created += n })
	if err != nil {
		return nil, err
	}
	if end.After(to) {
		end = to
	}
	if end.After(from) {
		err = count(`SELECT assignee, COUNT(*) FROM tasks WHERE workspace_id = ? AND due IS NOT NULL AND due >= ? AND due < ?
			AND (completed_at IS NULL OR completed_at > due) GROUP BY assignee`,
			[]any{tx.ws, micros(from), micros(end)}, func(s *funnelwatch.TaskStats, n int) { s.Overdue += n })
		if err != nil {
			return nil, err
		}
	}
	out := make([]funnelwatch.TaskStats, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b funnelwatch.TaskStats) int { return cmp.Compare(a.User, b.User) })
	return out, nil
}

// CardChanges counts the distinct deals each user changed in the period,
// from the log's range of event time.
func (tx *Tx) CardChanges(ctx context.Context, from, to time.Time) (map[string]int, error) {
	rows, err := tx.query(ctx, `SELECT actor, COUNT(DISTINCT deal_id) FROM events
		WHERE workspace_id = ? AND at >= ? AND at < ? AND type IN (?, ?, ?) AND actor <> '' AND deal_id <> ''
		GROUP BY actor`, tx.ws, micros(from), micros(to),
		string(funnelwatch.EventDealStageChanged), string(funnelwatch.EventDealUpdated), string(funnelwatch.EventNoteAdded))
	if err != nil {
		return nil, fmt.Errorf("card changes: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var u string
		var n int
		if err := rows.Scan(&u, &n); err != nil {
			return nil, fmt.Errorf("card changes: %w", err)
		}
		out[u] = n
	}
	return out, rows.Err()
}
