package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/funnelwatch/funnelwatch"
)

var noticeCols = []string{"id", "action_key", "target", "user_id", "status", "text", "at", "error"}

// SaveNotices upserts notices by (action key, target).
func (tx *Tx) SaveNotices(ctx context.Context, ns ...*funnelwatch.Notice) error {
	rows := make([][]any, 0, len(ns))
	for _, n := range lastByID(ns, func(n *funnelwatch.Notice) string { return n.ID() }) {
		rows = append(rows, []any{n.ID(), n.ActionKey, n.Target, n.User, string(n.Status), n.Text, micros(n.At), n.Error})
	}
	if err := tx.upsert(ctx, "notices", noticeCols, nil, rows); err != nil {
		return fmt.Errorf("save notices: %w", err)
	}
	return nil
}

// Notices lists notices by the filter in (at, action_key, target) order.
func (tx *Tx) Notices(ctx context.Context, f funnelwatch.NoticeFilter) ([]*funnelwatch.Notice, error) {
	where := []string{"workspace_id = ?"}
	args := []any{tx.ws}
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.ActionKey != "" {
		add("action_key = ?", f.ActionKey)
	}
	if len(f.ActionKeys) > 0 {
		where = append(where, "action_key IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.ActionKeys)), ", ")+")")
		for _, k := range f.ActionKeys {
			args = append(args, k)
		}
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if !f.Since.IsZero() {
		add("at >= ?", micros(f.Since))
	}
	rows, err := tx.query(ctx, `SELECT `+strings.Join(noticeCols[1:], ", ")+` FROM notices WHERE `+
		strings.Join(where, " AND ")+` ORDER BY at, action_key, target`, args...)
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	defer rows.Close()
	var out []*funnelwatch.Notice
	for rows.Next() {
		n := &funnelwatch.Notice{}
		var status string
		var at int64
		if err := rows.Scan(&n.ActionKey, &n.Target, &n.User, &status, &n.Text, &at, &n.Error); err != nil {
			return nil, fmt.Errorf("notices: %w", err)
		}
		n.Status, n.At = funnelwatch.NoticeStatus(status), fromMicros(at)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	return out, nil
}
