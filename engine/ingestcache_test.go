package engine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// An Ingestor that keeps only a few deals live and the rest of its cache
// as records, and evicts some, writes the same state tables as one that
// keeps every deal live: the demo company's history in batches (tasks
// done and moved on deals frozen meanwhile, calls placed by their phone
// on a frozen deal, deals read back from the tables after an eviction).
func TestIngestorCacheRecordsChangeNothing(t *testing.T) {
	_, events, _ := demoCompany(t, 20)
	regs, _, _ := demoCompany(t, 1)
	ctx := context.Background()
	run := func(maxLive, maxCached int) (*Ingestor, []string) {
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.EnsureWorkspace(ctx, "w", "W"); err != nil {
			t.Fatal(err)
		}
		in := &Ingestor{Store: st, Workspace: "w", Funnel: &regs.Funnel, MaxCached: maxCached, maxLive: maxLive}
		frozen := 0
		for i := 0; i < len(events); i += 500 {
			batch := events[i:min(i+500, len(events))]
			res, err := in.Ingest(ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			for j, reason := range res.Reasons {
				if reason != "" {
					t.Fatalf("event %s rejected: %s", batch[j].ID, reason)
				}
			}
			if err := in.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			frozen = max(frozen, len(in.frozen))
		}
		if maxLive > 0 && frozen == 0 {
			t.Fatalf("no deal kept as a record with %d live", maxLive)
		}
		rows := stateRows(t, st)
		t.Logf("live %d, cached %d: %d deals frozen at most, %d at the end, whole %v", maxLive, maxCached, frozen, len(in.frozen), in.whole)
		return in, rows
	}
	_, want := run(0, 0)
	in, got := run(40, 300)
	if in.whole {
		t.Fatal("no deal was evicted: the read-back from the tables was not tried")
	}
	if !slices.Equal(got, want) {
		t.Fatal("the state tables differ when the cache keeps records")
	}
}

// stateRows is what the state tables hold, a table a string: deals,
// tasks, calls, notes, stage visits and the projection checkpoint.
func stateRows(t *testing.T, st funnelwatch.Store) []string {
	t.Helper()
	ctx := context.Background()
	var rows []string
	err := st.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		ds, err := tx.Deals(ctx, funnelwatch.DealFilter{IncludeDeleted: true})
		if err != nil {
			return err
		}
		ts, err := tx.Tasks(ctx, funnelwatch.TaskFilter{})
		if err != nil {
			return err
		}
		var cs []*funnelwatch.Call
		var ns []*funnelwatch.Note
		for _, d := range ds {
			dc, err := tx.Calls(ctx, d.ID)
			if err != nil {
				return err
			}
			cs = append(cs, dc...)
			dn, err := tx.Notes(ctx, d.ID)
			if err != nil {
				return err
			}
			ns = append(ns, dn...)
		}
		vs, err := tx.StageVisits(ctx, funnelwatch.StageVisitFilter{})
		if err != nil {
			return err
		}
		seq, err := tx.ProjectionSeq(ctx)
		if err != nil {
			return err
		}
		for _, x := range []any{ds, ts, cs, ns, vs, seq} {
			b, err := json.Marshal(x)
			if err != nil {
				return err
			}
			rows = append(rows, string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
