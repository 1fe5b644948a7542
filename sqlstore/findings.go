package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

const violationColumns = `id, rule, severity, metric, deal_id, task_id, call_id, user_id, pipeline_id, stage_id,
	opened_at, resolved_at, message, recommendation, evidence, amount, win_rate, money_at_risk`

var violationCols = strings.Split(strings.Join(strings.Fields(violationColumns), ""), ",")

// violationUpdate is what a finding found again may change. opened_at is
// not among them: it is part of the finding's identity, and the first
// save is the one that saw it open.
var violationUpdate = []string{"resolved_at", "user_id", "evidence", "amount", "win_rate", "money_at_risk",
	"message", "recommendation"}

// SaveViolations upserts findings by id with multi-row statements: the
// engine writes thousands per transaction when it replays a log. Of an id
// repeated within the call, the last is saved. A nil or null Evidence is
// stored as {} and read back as {}: the column always holds a JSON object.
func (tx *Tx) SaveViolations(ctx context.Context, vs ...*funnelwatch.Violation) error {
	rows := make([][]any, 0, len(vs))
	for _, v := range lastByID(vs, func(v *funnelwatch.Violation) string { return v.ID }) {
		evidence, err := jsonText(v.Evidence)
		if err != nil {
			return funnelwatch.Errorf(funnelwatch.EINVALID, "evidence of finding %s: %v", v.ID, err)
		}
		msg, err := json.Marshal(v.Message)
		if err != nil {
			return fmt.Errorf("encode message of finding %s: %w", v.ID, err)
		}
		rec, err := json.Marshal(v.Recommendation)
		if err != nil {
			return fmt.Errorf("encode recommendation of finding %s: %w", v.ID, err)
		}
		rows = append(rows, []any{v.ID, v.Rule, string(v.Severity), v.Metric, v.DealID, v.TaskID, v.CallID, v.User,
			v.Pipeline, v.Stage, micros(v.OpenedAt), microsPtr(v.ResolvedAt), string(msg), string(rec), evidence,
			v.Amount, v.WinRate, v.MoneyAtRisk})
	}
	if err := tx.upsert(ctx, "violations", violationCols, violationUpdate, rows); err != nil {
		return fmt.Errorf("save violations: %w", err)
	}
	return nil
}

// Violations lists findings by the filter in (opened_at, id) order, or
// the reverse (Newest).
func (tx *Tx) Violations(ctx context.Context, f funnelwatch.ViolationFilter) ([]*funnelwatch.Violation, error) {
	where, args := tx.violationWhere(f)
	page, pargs := pageClause(f.Offset, f.Limit)
	order := ` ORDER BY opened_at, id`
	if f.Newest {
		order = ` ORDER BY opened_at DESC, id DESC`
	}
	rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT `+violationColumns+` FROM violations WHERE `+where+
		order+page), append(args, pargs...)...)
	if err != nil {
		return nil, fmt.Errorf("violations: %w", err)
	}
	vs, err := scanViolations(rows)
	if err != nil {
		return nil, fmt.Errorf("violations: %w", err)
	}
	return vs, nil
}

// CountViolations counts the findings the filter selects, all pages.
func (tx *Tx) CountViolations(ctx context.Context, f funnelwatch.ViolationFilter) (int, error) {
	where, args := tx.violationWhere(f)
	var n int
	if err := tx.run.QueryRowContext(ctx, tx.s.q(`SELECT COUNT(*) FROM violations WHERE `+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count violations: %w", err)
	}
	return n, nil
}

// violationWhere is the filter as a WHERE condition and its arguments.
func (tx *Tx) violationWhere(f funnelwatch.ViolationFilter) (string, []any) {
	c := tx.conds()
	add := c.add
	if f.DealID != "" {
		add("deal_id = ?", f.DealID)
	}
	if f.User != "" {
		add("user_id = ?", f.User)
	}
	if len(f.Users) > 0 {
		c.in("user_id", f.Users)
	}
	if f.Rule != "" {
		add("rule = ?", f.Rule)
	}
	if f.Severity != "" {
		add("severity = ?", string(f.Severity))
	}
	if f.Stage != "" {
		if pipeline, stage, ok := strings.Cut(f.Stage, "/"); ok {
			add("pipeline_id = ? AND stage_id = ?", pipeline, stage)
		} else {
			add("stage_id = ?", f.Stage)
		}
	}
	if f.Open != nil {
		if *f.Open {
			add("resolved_at IS NULL")
		} else {
			add("resolved_at IS NOT NULL")
		}
	}
	// Opened in [From, To): each finding belongs to the one period it
	// opened in, so trends do not count a long-open finding in every week
	// it stayed open.
	if !f.From.IsZero() {
		add("opened_at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		add("opened_at < ?", micros(f.To))
	}
	// Open at the instant: opened by then, not resolved by then. A
	// finding resolved the instant it opened fails the second condition
	// at every instant.
	if !f.OpenAt.IsZero() {
		at := micros(f.OpenAt)
		add("opened_at <= ? AND (resolved_at IS NULL OR resolved_at > ?)", at, at)
	}
	return c.sql(), c.args
}

func scanViolations(rows *sql.Rows) ([]*funnelwatch.Violation, error) {
	defer rows.Close()
	var out []*funnelwatch.Violation
	for rows.Next() {
		var v funnelwatch.Violation
		var severity, msg, rec, evidence string
		var opened int64
		var resolved sql.NullInt64
		if err := rows.Scan(&v.ID, &v.Rule, &severity, &v.Metric, &v.DealID, &v.TaskID, &v.CallID, &v.User,
			&v.Pipeline, &v.Stage, &opened, &resolved, &msg, &rec, &evidence, &v.Amount, &v.WinRate,
			&v.MoneyAtRisk); err != nil {
			return nil, err
		}
		v.Severity = funnelwatch.Severity(severity)
		v.OpenedAt, v.ResolvedAt = fromMicros(opened), fromNullMicros(resolved)
		if err := json.Unmarshal([]byte(msg), &v.Message); err != nil {
			return nil, fmt.Errorf("decode message of finding %s: %w", v.ID, err)
		}
		if err := json.Unmarshal([]byte(rec), &v.Recommendation); err != nil {
			return nil, fmt.Errorf("decode recommendation of finding %s: %w", v.ID, err)
		}
		v.Evidence = json.RawMessage(evidence)
		out = append(out, &v)
	}
	return out, rows.Err()
}

// ActiveDeals counts the deals open at some moment of [from, to), those
// closed or deleted since included. Deals without a responsible count
// under "", so that the map adds up to Total.
func (tx *Tx) ActiveDeals(ctx context.Context, from, to time.Time) (funnelwatch.ActiveDeals, error) {
	where := []string{"workspace_id = ?"}
	args := []any{tx.ws}
	if !to.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, micros(to))
	}
	if !from.IsZero() {
		where = append(where, "(closed_at IS NULL OR closed_at >= ?)", "(deleted_at IS NULL OR deleted_at >= ?)")
		args = append(args, micros(from), micros(from))
	}
	out := funnelwatch.ActiveDeals{ByResponsible: map[string]int{}}
	rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT responsible, COUNT(*) FROM deals WHERE `+
		strings.Join(where, " AND ")+` GROUP BY responsible`), args...)
	if err != nil {
		return out, fmt.Errorf("active deals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var user string
		var n int
		if err := rows.Scan(&user, &n); err != nil {
			return out, fmt.Errorf("active deals: %w", err)
		}
		out.ByResponsible[user] = n
		out.Total += n
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("active deals: %w", err)
	}
	return out, nil
}

// pageClause is LIMIT and OFFSET with the numbers as parameters, so that
// every page of a filter is one statement (and one rebound query).
func pageClause(offset, limit int) (string, []any) {
	if offset <= 0 && limit <= 0 {
		return "", nil
	}
	n := int64(limit)
	if limit <= 0 {
		// Both dialects accept a huge LIMIT with an OFFSET.
		n = 1 << 62
	}
	return " LIMIT ? OFFSET ?", []any{n, int64(max(offset, 0))}
}

// jsonText is raw as stored JSON text: none (nil, empty or null) is an
// empty object. Raw is checked so that a bad value fails the write rather
// than every read after it.
func jsonText(raw json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return "{}", nil
	}
	if !json.Valid(raw) {
		return "", fmt.Errorf("not valid JSON: %.40q", raw)
	}
	return string(raw), nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
