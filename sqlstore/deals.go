package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/funnelwatch/funnelwatch"
)

const dealColumns = `id, pipeline_id, stage_id, status, name, responsible, contact_id, amount, source, fields,
	loss_reason, created_at, updated_at, stage_entered_at, pipeline_entered_at, closed_at, deleted_at, last_event_at`

var dealCols = strings.Split(strings.Join(strings.Fields(dealColumns), ""), ",")

// SaveDeals upserts the deals' states.
func (tx *Tx) SaveDeals(ctx context.Context, deals ...*funnelwatch.Deal) error {
	return tx.saveDeals(ctx, deals, nil)
}

// activityCols are the deal columns that change without the deal moving,
// changing hands or closing; no index covers them.
var activityCols = []string{"name", "amount", "source", "fields", "updated_at", "last_event_at"}

// SaveDealActivity writes the activity columns of deals that exist.
func (tx *Tx) SaveDealActivity(ctx context.Context, deals ...*funnelwatch.Deal) error {
	return tx.saveDeals(ctx, deals, activityCols)
}

func (tx *Tx) saveDeals(ctx context.Context, deals []*funnelwatch.Deal, update []string) error {
	rows := make([][]any, 0, len(deals))
	for _, d := range deals {
		fields := "{}"
		if len(d.Fields) > 0 {
			b, err := json.Marshal(d.Fields)
			if err != nil {
				return fmt.Errorf("encode fields of deal %s: %w", d.ID, err)
			}
			fields = string(b)
		}
		rows = append(rows, []any{d.ID, d.Pipeline, d.Stage, string(d.Status), d.Name, d.Responsible, d.ContactID, d.Amount,
			d.Source, fields, d.LossReason, micros(d.CreatedAt), micros(d.UpdatedAt), micros(d.StageEnteredAt),
			micros(d.PipelineEnteredAt), microsPtr(d.ClosedAt), microsPtr(d.DeletedAt), micros(d.LastEventAt)})
	}
	if err := tx.upsert(ctx, "deals", dealCols, update, rows); err != nil {
		return fmt.Errorf("save deals: %w", err)
	}
	return nil
}

// Deal returns one deal.
func (tx *Tx) Deal(ctx context.Context, id string) (*funnelwatch.Deal, error) {
	rows, err := tx.query(ctx, `SELECT `+dealColumns+` FROM deals WHERE workspace_id = ? AND id = ?`, tx.ws, id)
	if err != nil {
		return nil, fmt.Errorf("deal %s: %w", id, err)
	}
	deals, err := scanDeals(rows)
	if err != nil {
		return nil, fmt.Errorf("deal %s: %w", id, err)
	}
	if len(deals) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "deal %q not found", id)
	}
	return deals[0], nil
}

// Deals lists deals by the filter. With IDs, the deals come in chunks of
// ids, each ordered by id.
func (tx *Tx) Deals(ctx context.Context, f funnelwatch.DealFilter) ([]*funnelwatch.Deal, error) {
	var out []*funnelwatch.Deal
	order := ` ORDER BY id`
	if f.LongestOnStage {
		order = ` ORDER BY stage_entered_at, id`
	}
	err := chunked(f.IDs, func(ids []string) error {
		where, args := tx.dealWhere(f, ids)
		q := `SELECT ` + dealColumns + ` FROM deals d WHERE ` + where + order + limitClause(f.Offset, f.Limit)
		rows, err := tx.run.QueryContext(ctx, tx.s.q(q), args...)
		if err != nil {
			return fmt.Errorf("deals: %w", err)
		}
		deals, err := scanDeals(rows)
		out = append(out, deals...)
		return err
	})
	return out, err
}

// dealWhere is the filter (and a chunk of its ids) as a WHERE condition
// on deals d, and its arguments.
func (tx *Tx) dealWhere(f funnelwatch.DealFilter, ids []string) (string, []any) {
	c := tx.conds()
	add := c.add
	if ids != nil {
		c.in("id", ids)
	}
	if f.Pipeline != "" {
		add("pipeline_id = ?", f.Pipeline)
	}
	if f.Stage != "" {
		add("stage_id = ?", f.Stage)
	}
	if f.Responsible != "" {
		add("responsible = ?", f.Responsible)
	}
	if len(f.Responsibles) > 0 {
		c.in("responsible", f.Responsibles)
	}
	switch f.Status {
	case "":
	case funnelwatch.DealOpen, funnelwatch.DealWon, funnelwatch.DealLost:
		// A literal, not a parameter: SQLite uses a partial index only
		// when the query's condition implies the index's.
		add("status = '" + string(f.Status) + "'")
	default:
		add("status = ?", string(f.Status))
	}
	if !f.IncludeDeleted {
		add("deleted_at IS NULL")
	}
	if f.WithoutOpenTask {
		add("NOT EXISTS (SELECT 1 FROM tasks t WHERE t.workspace_id = d.workspace_id AND t.deal_id = d.id AND t.completed_at IS NULL)")
	}
	return c.sql(), c.args
}

// DealCounts counts the deals of the filter per pipeline and stage.
func (tx *Tx) DealCounts(ctx context.Context, f funnelwatch.DealFilter) ([]funnelwatch.StageCount, error) {
	where, args := tx.dealWhere(f, nil)
	rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT pipeline_id, stage_id, COUNT(*), COALESCE(SUM(amount), 0) FROM deals d
		WHERE `+where+` GROUP BY pipeline_id, stage_id ORDER BY pipeline_id, stage_id`), args...)
	if err != nil {
		return nil, fmt.Errorf("deal counts: %w", err)
	}
	return scanStageCounts(rows)
}

// inListSize bounds an IN (…) list.
const inListSize = 500

// chunked calls fn once with nil when ids is empty (no id filter), else
// once per chunk of ids.
func chunked(ids []string, fn func([]string) error) error {
	if len(ids) == 0 {
		return fn(nil)
	}
	for len(ids) > 0 {
		n := min(inListSize, len(ids))
		if err := fn(ids[:n]); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// LatestDealOfContact returns the contact's latest deal, open ones first.
func (tx *Tx) LatestDealOfContact(ctx context.Context, contactID string) (*funnelwatch.Deal, error) {
	rows, err := tx.query(ctx, `SELECT `+dealColumns+` FROM deals
		WHERE workspace_id = ? AND contact_id = ? AND deleted_at IS NULL
		ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, created_at DESC, id DESC LIMIT 1`, tx.ws, contactID)
	if err != nil {
		return nil, fmt.Errorf("deal of contact %s: %w", contactID, err)
	}
	deals, err := scanDeals(rows)
	if err != nil {
		return nil, err
	}
	if len(deals) == 0 {
		return nil, funnelwatch.Errorf(funnelwatch.ENOTFOUND, "contact %q has no deal", contactID)
	}
	return deals[0], nil
}

func scanDeals(rows *sql.Rows) ([]*funnelwatch.Deal, error) {
	defer rows.Close()
	var out []*funnelwatch.Deal
	for rows.Next() {
		var d funnelwatch.Deal
		var status, fields string
		var created, updated, stageAt, pipeAt, lastAt int64
		var closed, deleted sql.NullInt64
		if err := rows.Scan(&d.ID, &d.Pipeline, &d.Stage, &status, &d.Name, &d.Responsible, &d.ContactID,
			&d.Amount, &d.Source, &fields, &d.LossReason, &created, &updated, &stageAt, &pipeAt,
			&closed, &deleted, &lastAt); err != nil {
			return nil, err
		}
		d.Status = funnelwatch.DealStatus(status)
		if fields != "" && fields != "{}" {
			if err := json.Unmarshal([]byte(fields), &d.Fields); err != nil {
				return nil, fmt.Errorf("decode fields of deal %s: %w", d.ID, err)
			}
		}
		d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
		d.StageEnteredAt, d.PipelineEnteredAt = fromMicros(stageAt), fromMicros(pipeAt)
		d.ClosedAt, d.DeletedAt = fromNullMicros(closed), fromNullMicros(deleted)
		d.LastEventAt = fromMicros(lastAt)
		out = append(out, &d)
	}
	return out, rows.Err()
}

// StageCounts counts open deals per stage.
func (tx *Tx) StageCounts(ctx context.Context) ([]funnelwatch.StageCount, error) {
	rows, err := tx.query(ctx, `SELECT pipeline_id, stage_id, COUNT(*), COALESCE(SUM(amount), 0) FROM deals
		WHERE workspace_id = ? AND deleted_at IS NULL GROUP BY pipeline_id, stage_id ORDER BY pipeline_id, stage_id`, tx.ws)
	if err != nil {
		return nil, fmt.Errorf("stage counts: %w", err)
	}
	return scanStageCounts(rows)
}

func scanStageCounts(rows *sql.Rows) ([]funnelwatch.StageCount, error) {
	defer rows.Close()
	var out []funnelwatch.StageCount
	for rows.Next() {
		var c funnelwatch.StageCount
		if err := rows.Scan(&c.Pipeline, &c.Stage, &c.Deals, &c.Amount); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func limitClause(offset, limit int) string {
	switch {
	case limit > 0 && offset > 0:
		return fmt.Sprintf(" LIMIT %d OFFSET %d", limit, offset)
	case limit > 0:
		return fmt.Sprintf(" LIMIT %d", limit)
	case offset > 0:
		// Both dialects accept a huge LIMIT with an OFFSET.
		return fmt.Sprintf(" LIMIT %d OFFSET %d", int64(1)<<62, offset)
	}
	return ""
}
