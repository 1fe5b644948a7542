package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/sqlstore"
)

// A database of before 0004 gets, from 0004_analytics, the current stay
// of each deal not deleted as an open stage visit, keyed as the fold keys
// it: the deal's next move closes it.
func TestMigration0004BackfillsCurrentStays(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrations, "migration")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0004" {
			b, err := fs.ReadFile(migrations, "migration/"+e.Name())
			if err != nil {
				t.Fatal(err)
			}
			old["migration/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlstore.Migrate(ctx, db, sqlstore.SQLite, old, "migration"); err != nil {
		t.Fatal(err)
	}
	entered := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC).UnixMicro()
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, created_at) VALUES ('w', 'W', 0)`,
		`INSERT INTO deals (workspace_id, id, pipeline_id, stage_id, status, responsible, created_at, updated_at,
			stage_entered_at, pipeline_entered_at, last_event_at) VALUES ('w', 'D1', 'sales', 'contact', 'open', 'roman', 0, 0, ?, 0, 0)`,
		`INSERT INTO deals (workspace_id, id, pipeline_id, stage_id, status, responsible, created_at, updated_at,
			stage_entered_at, pipeline_entered_at, last_event_at, deleted_at) VALUES ('w', 'D2', 'sales', 'target', 'open', 'olga', 0, 0, ?, 0, 0, 5)`,
	} {
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, entered)
		}
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	left := time.Date(2026, 11, 3, 7, 0, 0, 0, time.UTC)
	err = s.Update(ctx, "w", func(tx funnelwatch.Tx) error {
		// D1's next move, as the fold writes it.
		return tx.SaveStageVisits(ctx, &funnelwatch.StageVisit{DealID: "D1", Pipeline: "sales", Stage: "contact",
			Entered: time.UnixMicro(entered), Left: &left, NextPipeline: "sales", NextStage: "ready"})
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		vs, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0].DealID != "D1" || vs[0].Responsible != "roman" || vs[0].Left == nil ||
			!vs[0].Left.Equal(left) || vs[0].NextStage != "ready" {
			t.Errorf("visits after the migration and a move: %+v", vs)
		}
		return nil
	})
}
