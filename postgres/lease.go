package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// leaseAdvisory returns a leaser that holds a session-level advisory lock
// per workspace on a connection of its own. PostgreSQL drops the lock when
// the session ends, so when a process dies a waiting one takes over
// within the poll interval.
func leaseAdvisory(db *sql.DB) func(ctx context.Context, workspace string) (func() error, error) {
	return func(ctx context.Context, workspace string) (func() error, error) {
		conn, err := db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("lease: %w", err)
		}
		const key = `hashtextextended('funnelwatch:ingest:' || $1, 0)`
		for {
			var ok bool
			if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(`+key+`)`, workspace).Scan(&ok); err != nil {
				conn.Close()
				return nil, fmt.Errorf("lease on workspace %q: %w", workspace, err)
			}
			if ok {
				return func() error {
					defer conn.Close()
					_, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(`+key+`)`, workspace)
					return err
				}, nil
			}
			select {
			case <-ctx.Done():
				conn.Close()
				return nil, fmt.Errorf("lease on workspace %q: %w", workspace, ctx.Err())
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}
