package main

import (
	"context"
	"fmt"
	"io"

	"github.com/funnelwatch/funnelwatch/sqlite"
)

// runBackup copies the embedded store while it is in use.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backup", stderr)
	db := fs.String("db", env("DB", ""), "store: sqlite:PATH (default: sqlite in the data directory)")
	out := fs.String("out", "", "the backup file to write (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageErr("--out is required")
	}
	*db = storeURL(*db)
	path, ok := trimSQLitePrefix(*db)
	if !ok {
		return usageErr("backup is for the embedded SQLite store; back PostgreSQL up with pg_dump")
	}
	if err := sqlite.Backup(ctx, path, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s\n", path, *out)
	return nil
}
