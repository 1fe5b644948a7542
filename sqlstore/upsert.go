package sqlstore

import (
	"context"
	"strings"
)

// maxParams bounds the parameters of one statement (SQLite allows 32,766,
// PostgreSQL 65,535).
const maxParams = 30000

// upsert writes rows keyed by (workspace_id, id) with multi-row INSERT …
// ON CONFLICT DO UPDATE statements; one statement per row costs SQLite
// several times more. cols lists the columns after workspace_id, starting
// with id; rows must not repeat an id. An existing row gets the columns
// in update, or all of cols[1:] when update is nil: naming fewer columns
// spares SQLite the upkeep of indexes on the others.
func (tx *Tx) upsert(ctx context.Context, table string, cols, update []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(cols) + 1
	per := max(1, maxParams/width)
	if update == nil {
		update = cols[1:]
	}
	sets := make([]string, 0, len(update))
	for _, c := range update {
		sets = append(sets, c+" = excluded."+c)
	}
	head := `INSERT INTO ` + table + ` (workspace_id, ` + strings.Join(cols, ", ") + `) VALUES `
	tail := ` ON CONFLICT (workspace_id, id) DO UPDATE SET ` + strings.Join(sets, ", ")
	args := make([]any, 0, min(len(rows), per)*width)
	for len(rows) > 0 {
		n := chunkSize(len(rows), per)
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, tx.ws)
			args = append(args, r...)
		}
		if _, err := tx.exec(ctx, head+placeholders(n, width)+tail, args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// chunkSizes are the row counts of multi-row statements. Keeping to a few
// sizes keeps the prepared-statement cache small.
var chunkSizes = []int{256, 64, 16, 4, 1}

// chunkSize returns the largest standard size not above n or limit.
func chunkSize(n, limit int) int {
	for _, c := range chunkSizes {
		if c <= n && c <= limit {
			return c
		}
	}
	return 1
}
