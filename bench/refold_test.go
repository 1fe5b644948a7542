package bench_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// With the engine on, its action events arrive behind the deals' latest
// events (two clients run ahead of it). Whatever the Ingestor folds on top
// rather than re-folding from the log, the state tables hold what a fold
// of each deal's log in event-time order gives.
func TestIngestRulesStateIsTheFoldOfTheLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	regs := benchRegulations(t)
	if _, err := bench.IngestRules(ctx, dir, regs, bench.IngestOptions{Events: 5000, Batch: 500, Clients: 2}); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "rules.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = store.View(ctx, "bench", func(tx funnelwatch.ReadTx) error {
		deals, err := tx.Deals(ctx, funnelwatch.DealFilter{IncludeDeleted: true})
		if err != nil {
			return err
		}
		if len(deals) == 0 {
			t.Fatal("no deals")
		}
		engineTasks := 0
		for _, d := range deals {
			events, err := tx.Events(ctx, funnelwatch.EventFilter{DealID: d.ID})
			if err != nil {
				return err
			}
			a := engine.Fold(&regs.Funnel, events)
			w := a.Deal
			if w == nil {
				t.Errorf("deal %s: the log folds to no deal", d.ID)
				continue
			}
			if d.Stage != w.Stage || d.Status != w.Status || d.Responsible != w.Responsible || d.Amount != w.Amount ||
				!d.StageEnteredAt.Equal(w.StageEnteredAt) || !d.UpdatedAt.Equal(w.UpdatedAt) || (d.DeletedAt == nil) != (w.DeletedAt == nil) {
				t.Errorf("deal %s: stored %+v, the log folds to %+v", d.ID, d, w)
			}
			tasks, err := tx.Tasks(ctx, funnelwatch.TaskFilter{DealID: d.ID})
			if err != nil {
				return err
			}
			if len(tasks) != len(a.Tasks) {
				t.Errorf("deal %s: %d tasks stored, the log folds to %d", d.ID, len(tasks), len(a.Tasks))
			}
			for _, st := range tasks {
				ft := a.Tasks.Get(st.ID)
				if ft == nil {
					t.Errorf("deal %s: task %s stored, not in the fold", d.ID, st.ID)
					continue
				}
				if st.CreatedBy != "" && st.CreatedBy[0] == 'r' {
					engineTasks++
				}
				if st.Assignee != ft.Assignee || !st.CreatedAt.Equal(ft.CreatedAt) || st.CreatedBy != ft.CreatedBy ||
					(st.CompletedAt == nil) != (ft.CompletedAt == nil) || (st.CompletedAt != nil && !st.CompletedAt.Equal(*ft.CompletedAt)) ||
					(st.Due == nil) != (ft.Due == nil) || (st.Due != nil && !st.Due.Equal(*ft.Due)) ||
					st.Reschedules != ft.Reschedules || st.Deleted != ft.Deleted || st.Result != ft.Result {
					t.Errorf("deal %s task %s: stored %+v, the log folds to %+v", d.ID, st.ID, st, ft)
				}
			}
		}
		if engineTasks == 0 {
			t.Error("no task made by the engine")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
