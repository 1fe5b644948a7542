package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"time"

	"github.com/funnelwatch/funnelwatch/sqlstore"
)

// OpenLogReader opens, beside a store Open opened, a store for reading
// the whole event log once: the rules engine's first read
// (engine.Live.Log). Its one connection reads without a memory map: read
// through Open's readers, every page of the log stayed mapped into the
// process — resident, counted in its memory (~0.9 GiB at 1,000,000
// deals) — long after the engine had folded it; read with a system call
// a page, the pages stay in the kernel's page cache only. A connection
// idle for a minute is closed, with its small page cache. The store
// only reads: no migrations, no lease.
func OpenLogReader(ctx context.Context, path string) (*sqlstore.Store, error) {
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "mmap_size(0)", "cache_size(-4096)", "query_only(1)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return sqlstore.New(db, db, sqlstore.SQLite), nil
}
