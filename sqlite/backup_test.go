package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// A backup taken while the store is open has what was committed, opens
// as a store of its own, and refuses to overwrite a file.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "fw.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.EnsureWorkspace(ctx, "ws", "Септики")
	e, _ := funnelwatch.DecodeEvent([]byte(`{"id":"e1","type":"deal.created","at":"2026-11-23T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`))
	if err := st.Update(ctx, "ws", func(tx funnelwatch.Tx) error { _, err := tx.InsertEvent(ctx, &e); return err }); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "backup #1?.db") // characters a file: URI would misread
	if err := sqlite.Backup(ctx, path, out); err != nil {
		t.Fatal(err)
	}
	copyStore, err := sqlite.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer copyStore.Close()
	var n int64
	if err := copyStore.View(ctx, "ws", func(tx funnelwatch.ReadTx) error { var err error; n, err = tx.EventCount(ctx); return err }); err != nil || n != 1 {
		t.Fatalf("the backup has %d events (%v), want 1", n, err)
	}
	if err := sqlite.Backup(ctx, path, out); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}
}
