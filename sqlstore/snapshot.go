package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/funnelwatch/funnelwatch"
)

// snapshotPart is the most bytes of a snapshot one row holds: SQLite
// reads a large value through its chain of overflow pages slower the
// longer it is (200,000 deals, 87 MiB: read in 0.88 s in parts of 4 MiB,
// 0.53 s in 1 MiB, 0.38 s in 256 KiB, 0.50 s in 64 KiB).
const snapshotPart = 256 << 10

// EngineSnapshot returns the engine's stored snapshot, its parts put back
// together (a zero snapshot when none).
func (tx *Tx) EngineSnapshot(ctx context.Context) (funnelwatch.EngineSnapshot, error) {
	var s funnelwatch.EngineSnapshot
	// Its size first, so that its parts are put together in one buffer
	// made at once (a million deals make some 450 MiB).
	row, err := tx.queryRow(ctx, `SELECT COALESCE(SUM(length(data)), 0) FROM engine_snapshot WHERE workspace_id = ?`, tx.ws)
	if err != nil {
		return s, fmt.Errorf("engine snapshot: %w", err)
	}
	var size int64
	if err := row.Scan(&size); err != nil {
		return s, fmt.Errorf("engine snapshot: %w", err)
	}
	if size > 0 {
		s.Data = make([]byte, 0, size)
	}
	rows, err := tx.query(ctx, `SELECT part, seq, format, digest, data FROM engine_snapshot WHERE workspace_id = ? ORDER BY part`, tx.ws)
	if err != nil {
		return s, fmt.Errorf("engine snapshot: %w", err)
	}
	defer rows.Close()
	n := int64(0)
	for rows.Next() {
		var part, seq int64
		var format, digest string
		var data sql.RawBytes // the driver's own bytes, appended below: one copy, not two
		if err := rows.Scan(&part, &seq, &format, &digest, &data); err != nil {
			return funnelwatch.EngineSnapshot{}, fmt.Errorf("engine snapshot: %w", err)
		}
		if part != n || (n > 0 && (seq != s.Seq || format != s.Format || digest != s.Digest)) {
			return funnelwatch.EngineSnapshot{}, fmt.Errorf("engine snapshot: part %d does not follow the parts before it", part)
		}
		s.Seq, s.Format, s.Digest = seq, format, digest
		s.Data = append(s.Data, data...)
		n++
	}
	if err := rows.Err(); err != nil {
		return funnelwatch.EngineSnapshot{}, fmt.Errorf("engine snapshot: %w", err)
	}
	return s, nil
}

// SetEngineSnapshot replaces the engine's stored snapshot.
func (tx *Tx) SetEngineSnapshot(ctx context.Context, s funnelwatch.EngineSnapshot) error {
	if _, err := tx.exec(ctx, `DELETE FROM engine_snapshot WHERE workspace_id = ?`, tx.ws); err != nil {
		return fmt.Errorf("set engine snapshot: %w", err)
	}
	for part, off := 0, 0; off < len(s.Data); part++ {
		end := min(off+snapshotPart, len(s.Data))
		_, err := tx.exec(ctx, `INSERT INTO engine_snapshot (workspace_id, part, seq, format, digest, data) VALUES (?, ?, ?, ?, ?, ?)`,
			tx.ws, part, s.Seq, s.Format, s.Digest, s.Data[off:end])
		if err != nil {
			return fmt.Errorf("set engine snapshot: %w", err)
		}
		off = end
	}
	return nil
}
