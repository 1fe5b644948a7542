// Package sqlite opens the embedded SQLite store: a pure-Go driver, WAL
// journal, a busy timeout, one writer connection and a pool of readers.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/funnelwatch/funnelwatch/sqlstore"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Page cache sizes, per connection (negative: KiB). A writer's cache
// holds the pages a transaction changes and reads (it has no memory map),
// and those read back from the WAL (checkpointed behind the writer every
// few seconds). A reader gets its pages through the map and needs little. They were 256 MiB each, then 64 MiB for the writers:
// full within 20,000 deals, the write pool's caches were ~80 MiB of the
// server's anon memory, and 16 MiB ingests as fast (bench ingest and
// bench memory, alternated; docs/performance.md, "Open deals held in
// memory").
const (
	writeCache = "cache_size(-16384)"
	readCache  = "cache_size(-16384)"
)

// checkpointEvery is how often the WAL is checkpointed behind the writer
// while it grows: a commit that checkpoints stalls every writer for the
// copy (tens of ms at 40 MiB; the event → finding latency's tail). Not
// more often: the first commit after a completed checkpoint restarts
// the WAL and syncs its header, a stall of its own (50–190 ms on a busy
// disk); every 3 s rather than every second took the p99 with history
// from 46–74 ms to 29–44 ms (docs/performance.md).
const checkpointEvery = 3 * time.Second

//go:embed migration/*.sql
var migrations embed.FS

// Open opens (creating if needed) the database file at path and applies
// the migrations. ":memory:" is not supported because readers and the
// writer need to share one database; use a file in a temporary directory.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	pragmas := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"busy_timeout(10000)",
		// NORMAL is durable against process crashes in WAL mode; only
		// an OS crash or power loss can drop the last transactions.
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
		// Statement journals (which multi-row upserts inside a transaction
		// need) and temporary tables stay in memory, not in temp files.
		"temp_store(MEMORY)",
		// Checkpoints run behind the writer every few seconds (see
		// checkpointEvery). The writer's own, in the commit that takes
		// the WAL past ~240 MiB (60,000 pages; it was ~40 MiB when it
		// was the only one), is left for a WAL that grows faster than
		// those complete: it then finds most frames already copied.
		// At 1,000 events/s the WAL grows ~40 MiB a second, so the
		// file may reach ~120 MiB between checkpoints.
		"wal_autocheckpoint(60000)",
	} {
		pragmas.Add("_pragma", p)
	}
	// Transactions on the write pool begin IMMEDIATE so two writers queue
	// on the busy timeout instead of failing on a lock upgrade. The store
	// keeps one of its two connections as the writer.
	//
	// The writer reads the pages it changes through its page cache, not
	// a memory map: the pages an ingest or a catch-up touched stayed
	// mapped in the process for as long as it ran, 300 MiB of its
	// resident memory with 1,000,000 open deals, and ingest was no
	// faster for them (docs/performance.md, "Open deals held in
	// memory", session 7).
	wq := url.Values{}
	for _, p := range pragmas["_pragma"] {
		wq.Add("_pragma", p)
	}
	wq.Add("_pragma", writeCache)
	wq.Add("_pragma", "mmap_size(0)")
	wq.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", "file:"+escapePath(path)+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(2)
	write.SetMaxIdleConns(2)
	write.SetConnMaxLifetime(0)
	if err := sqlstore.Migrate(ctx, write, sqlstore.SQLite, migrations, "migration"); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	rq := url.Values{}
	for _, p := range pragmas["_pragma"] {
		rq.Add("_pragma", p)
	}
	rq.Add("_pragma", readCache)
	// Readers read pages through a memory map rather than a read call
	// each: a pure-Go SQLite pays dearly for every system call once the
	// indexes outgrow the page cache, and the pages' reports read much.
	// (modernc applies the pragmas sorted by name: one mmap_size each.)
	rq.Add("_pragma", "mmap_size(1073741824)")
	read, err := sql.Open("sqlite", "file:"+escapePath(path)+"?"+rq.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	s := sqlstore.New(write, read, sqlstore.SQLite)
	s.SetLeaser(LeaseFile(path))
	s.CheckpointBehind(checkpointEvery)
	return s, nil
}
