package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// InsertEvent appends e to the log unless its id is already there.
func (tx *Tx) InsertEvent(ctx context.Context, e *funnelwatch.Event) (bool, error) {
	payload, err := eventPayload(e)
	if err != nil {
		return false, err
	}
	row, err := tx.queryRow(ctx, `INSERT INTO events (workspace_id, id, type, at, received_at, deal_id, task_id, actor, payload)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace_id, id) DO NOTHING RETURNING seq`,
		tx.ws, e.ID, string(e.Type), micros(e.At), micros(e.ReceivedAt), eventDealID(e), eventTaskID(e), e.Actor, payload)
	if err != nil {
		return false, err
	}
	switch err := row.Scan(&e.Seq); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("insert event %s: %w", e.ID, err)
	}
	if err := tx.countEvents(ctx, 1); err != nil {
		return false, err
	}
	return true, nil
}

// countEvents adds n to the workspace's count of events (event_counts,
// migration 0007), in the transaction that inserted them.
func (tx *Tx) countEvents(ctx context.Context, n int64) error {
	if n == 0 {
		return nil
	}
	_, err := tx.exec(ctx, `INSERT INTO event_counts (workspace_id, n) VALUES (?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET n = event_counts.n + excluded.n`, tx.ws, n)
	if err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	return nil
}

// eventRowsPerInsert bounds a multi-row INSERT: 9 parameters a row, far
// under both dialects' parameter limits.
const eventRowsPerInsert = 256

// InsertEvents appends events with multi-row INSERTs, which cost SQLite
// far less per row than one statement per event, and returns the last
// seq.
func (tx *Tx) InsertEvents(ctx context.Context, events []*funnelwatch.Event) (int64, error) {
	const cols = 9
	var last int64
	args := make([]any, 0, eventRowsPerInsert*cols)
	for len(events) > 0 {
		n := chunkSize(len(events), eventRowsPerInsert)
		part := events[:n]
		events = events[n:]
		args = args[:0]
		for _, e := range part {
			payload, err := eventPayload(e)
			if err != nil {
				return 0, err
			}
			args = append(args, tx.ws, e.ID, string(e.Type), micros(e.At), micros(e.ReceivedAt), eventDealID(e), eventTaskID(e), e.Actor, payload)
		}
		q := `INSERT INTO events (workspace_id, id, type, at, received_at, deal_id, task_id, actor, payload) VALUES ` +
			placeholders(n, cols) + ` ON CONFLICT (workspace_id, id) DO NOTHING`
		seq, got, err := tx.insertReturningSeq(ctx, q, args)
		if err != nil {
			return 0, fmt.Errorf("insert events: %w", err)
		}
		if err := tx.countEvents(ctx, got); err != nil {
			return 0, err
		}
		if got != int64(n) {
			return 0, funnelwatch.Errorf(funnelwatch.ECONFLICT, "%d of %d events were already in the log", int64(n)-got, n)
		}
		last = max(last, seq)
	}
	return last, nil
}

// insertReturningSeq runs a multi-row INSERT into events and returns the
// largest seq it assigned and how many rows it inserted. SQLite reports
// the last rowid of the statement, which is the largest since seq only
// grows; PostgreSQL has no such report, so it returns the seqs.
func (tx *Tx) insertReturningSeq(ctx context.Context, q string, args []any) (last, n int64, err error) {
	if tx.s.dialect == SQLite {
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return 0, 0, err
		}
		if n, err = res.RowsAffected(); err != nil {
			return 0, 0, err
		}
		if n == 0 {
			return 0, 0, nil
		}
		last, err = res.LastInsertId()
		return last, n, err
	}
	rows, err := tx.query(ctx, q+` RETURNING seq`, args...)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return 0, 0, err
		}
		last = max(last, seq)
		n++
	}
	return last, n, rows.Err()
}

// placeholders returns "(?, ?), (?, ?)" for rows × cols.
func placeholders(rows, cols int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	return row + strings.Repeat(", "+row, rows-1)
}

func eventPayload(e *funnelwatch.Event) (string, error) {
	if len(e.Raw) > 0 {
		return string(e.Raw), nil
	}
	seq := e.Seq
	e.Seq = 0
	payload, err := json.Marshal(e)
	e.Seq = seq
	if err != nil {
		return "", fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return string(payload), nil
}

func eventDealID(e *funnelwatch.Event) string {
	if e.DealID != "" {
		return e.DealID
	}
	return e.DealRef()
}

func eventTaskID(e *funnelwatch.Event) string {
	if e.TaskID == "" && e.Task != nil {
		return e.Task.ID
	}
	return e.TaskID
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
		q := `SELECT id FROM events WHERE workspace_id = ? AND id IN ` + placeholders(1, n)
		rows, err := tx.run.QueryContext(ctx, tx.s.q(q), args...)
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
	order := ` ORDER BY at, seq`
	if f.BySeq {
		order = ` ORDER BY seq`
		if f.DealID == "" && tx.s.dialect == SQLite {
			// Read the log as a range of seq (SQLite's rowid): left to
			// itself the planner takes the (workspace, at, seq) index and
			// sorts the whole workspace's log for every page.
			where[0] = "+workspace_id = ?"
		}
	}
	q := `SELECT seq, received_at, deal_id, payload FROM events WHERE ` + strings.Join(where, " AND ") + order
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := tx.run.QueryContext(ctx, tx.s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var stored []storedEvent
	for rows.Next() {
		var r storedEvent
		if err := rows.Scan(&r.seq, &r.received, &r.dealID, &r.payload); err != nil {
			return nil, err
		}
		stored = append(stored, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return decodeStored(stored)
}

// storedEvent is a row of the log as read, before its payload is decoded.
type storedEvent struct {
	seq, received int64
	dealID        string
	payload       []byte
}

// decodeStored decodes the rows read, in order. Decoding the JSON is most
// of reading the log (the engine's catch-up at start, a backtest of the
// log): a long read is decoded on every core, in as many runs of rows.
// Of rows that fail, the first in order is the error.
func decodeStored(rows []storedEvent) ([]funnelwatch.Event, error) {
	out := make([]funnelwatch.Event, len(rows))
	workers := runtime.GOMAXPROCS(0)
	if len(rows) < 512 {
		workers = 1
	}
	run := (len(rows) + workers - 1) / max(workers, 1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*run, min((w+1)*run, len(rows))
		if lo >= hi {
			break
		}
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				if err := rows[i].decode(&out[i]); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decode decodes the row's payload into e. The payload is the event as
// it came (or as the engine made it): decoded as ingest decodes it, so
// defaults (a call's started_at and answered) are the same.
func (r *storedEvent) decode(e *funnelwatch.Event) error {
	d, err := funnelwatch.DecodeEvent(r.payload)
	if err != nil {
		return fmt.Errorf("decode stored event %d: %w", r.seq, err)
	}
	if d.DealID == "" {
		// The deal a task event or a call was resolved to at ingest.
		d.DealID = r.dealID
	}
	d.Seq = r.seq
	d.ReceivedAt = fromMicros(r.received)
	*e = d
	return nil
}

// EventCount returns the workspace's count of events, kept by the
// inserts: counting the log's rows grows with the log.
func (tx *Tx) EventCount(ctx context.Context) (int64, error) {
	row, err := tx.queryRow(ctx, `SELECT COALESCE(MAX(n), 0) FROM event_counts WHERE workspace_id = ?`, tx.ws)
	if err != nil {
		return 0, err
	}
	var n int64
	return n, row.Scan(&n)
}

// LastEventTimes returns the time of each deal's latest event.
func (tx *Tx) LastEventTimes(ctx context.Context, dealIDs []string) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(dealIDs))
	if len(dealIDs) == 0 {
		return out, nil
	}
	err := chunked(dealIDs, func(ids []string) error {
		args := []any{tx.ws}
		for _, id := range ids {
			args = append(args, id)
		}
		rows, err := tx.run.QueryContext(ctx, tx.s.q(`SELECT deal_id, MAX(at) FROM events
			WHERE workspace_id = ? AND deal_id IN `+placeholders(1, len(ids))+` GROUP BY deal_id`), args...)
		if err != nil {
			return fmt.Errorf("last event times: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var at int64
			if err := rows.Scan(&id, &at); err != nil {
				return err
			}
			out[id] = fromMicros(at)
		}
		return rows.Err()
	})
	return out, err
}

// ProjectionSeq returns how far the state tables reflect the log.
func (tx *Tx) ProjectionSeq(ctx context.Context) (int64, error) {
	row, err := tx.queryRow(ctx, `SELECT seq FROM projection_state WHERE workspace_id = ?`, tx.ws)
	if err != nil {
		return 0, err
	}
	var seq int64
	if err := row.Scan(&seq); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("projection seq: %w", err)
	}
	return seq, nil
}

// SetProjectionSeq records how far the state tables reflect the log.
func (tx *Tx) SetProjectionSeq(ctx context.Context, seq int64) error {
	_, err := tx.exec(ctx, `INSERT INTO projection_state (workspace_id, seq) VALUES (?, ?)
		ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq`, tx.ws, seq)
	if err != nil {
		return fmt.Errorf("set projection seq: %w", err)
	}
	return nil
}
