package engine_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// lookupStore is a real store that counts the batches' look-ups of deals
// and tasks the Ingestor's cache does not hold.
type lookupStore struct {
	funnelwatch.Store
	lookups int
}

type lookupTx struct {
	funnelwatch.Tx
	s *lookupStore
}

func (s *lookupStore) Update(ctx context.Context, ws string, fn func(funnelwatch.Tx) error) error {
	return s.Store.Update(ctx, ws, func(tx funnelwatch.Tx) error { return fn(&lookupTx{tx, s}) })
}

func (tx *lookupTx) Deals(ctx context.Context, f funnelwatch.DealFilter) ([]*funnelwatch.Deal, error) {
	if len(f.IDs) > 0 {
		tx.s.lookups++
	}
	return tx.Tx.Deals(ctx, f)
}

func (tx *lookupTx) Tasks(ctx context.Context, f funnelwatch.TaskFilter) ([]*funnelwatch.Task, error) {
	if len(f.IDs) > 0 || len(f.DealIDs) > 0 {
		tx.s.lookups++
	}
	return tx.Tx.Tasks(ctx, f)
}

func openLookupStore(t *testing.T, path string) *lookupStore {
	t.Helper()
	sq, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	if err := sq.EnsureWorkspace(context.Background(), "w", "W"); err != nil {
		t.Fatal(err)
	}
	return &lookupStore{Store: sq}
}

// dealWithTask is deal n created with an open task, at minute n.
func dealWithTask(t *testing.T, n int) []funnelwatch.Event {
	at := fmt.Sprintf("2026-11-02T10:%02d:00+03:00", n)
	return decode(t,
		fmt.Sprintf(`{"id":"c%d","type":"deal.created","at":%q,"deal":{"id":"D%d","pipeline":"sales","responsible":"roman"}}`, n, at, n),
		fmt.Sprintf(`{"id":"t%d","type":"task.created","at":%q,"task":{"id":"T%d","deal_id":"D%d","text":"Позвонить"}}`, n, at, n, n))
}

// workOn is the next step on deal n: its task done, the deal moved on.
func workOn(t *testing.T, n int) []funnelwatch.Event {
	at := fmt.Sprintf("2026-11-02T11:%02d:00+03:00", n)
	return decode(t,
		fmt.Sprintf(`{"id":"d%d","type":"task.completed","at":%q,"task_id":"T%d"}`, n, at, n),
		fmt.Sprintf(`{"id":"m%d","type":"deal.stage_changed","at":%q,"deal_id":"D%d","to_stage":"contact"}`, n, at, n))
}

func ingestAll(t *testing.T, in *engine.Ingestor, events []funnelwatch.Event) {
	t.Helper()
	res, err := in.Ingest(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Count(engine.Accepted); n != len(events) {
		t.Fatalf("%d of %d events accepted: %v", n, len(events), res.Reasons)
	}
}

func checkWorkedOn(t *testing.T, store funnelwatch.Store, deals int) {
	t.Helper()
	ctx := context.Background()
	err := store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		ds, err := tx.Deals(ctx, funnelwatch.DealFilter{})
		if err != nil {
			return err
		}
		open := false
		ts, err := tx.Tasks(ctx, funnelwatch.TaskFilter{Open: &open})
		if err != nil {
			return err
		}
		if len(ds) != deals || len(ts) != deals {
			t.Fatalf("%d deals and %d completed tasks in the tables, want %d of each", len(ds), len(ts), deals)
		}
		for _, d := range ds {
			if d.Stage != "contact" {
				t.Errorf("deal %s on stage %q, want contact", d.ID, d.Stage)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// On a new workspace the cache holds every deal there is, so a batch of
// new deals and tasks asks the store about none of them; once a deal has
// been evicted, a batch that refers to it reads it back.
func TestIngestorCacheOfANewWorkspace(t *testing.T) {
	ctx := context.Background()
	store := openLookupStore(t, filepath.Join(t.TempDir(), "fw.db"))
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: storetest.Funnel(), MaxCached: 4}
	for n := 1; n <= 4; n++ {
		ingestAll(t, in, dealWithTask(t, n))
	}
	ingestAll(t, in, workOn(t, 1))
	if store.lookups != 0 {
		t.Fatalf("%d look-ups of deals or tasks on a new workspace whose cache holds them all", store.lookups)
	}
	// Written, then more deals than the cache keeps: some are evicted.
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for n := 5; n <= 12; n++ {
		ingestAll(t, in, dealWithTask(t, n))
		if err := in.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	before := store.lookups
	for n := 2; n <= 12; n++ {
		ingestAll(t, in, workOn(t, n))
	}
	if store.lookups == before {
		t.Fatal("no look-up after evictions: the cache was taken for the whole workspace")
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkWorkedOn(t, store, 12)
}

// A start on a workspace with deals reads back the deals its batches
// refer to.
func TestIngestorCacheAfterARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	first := openLookupStore(t, path)
	in := &engine.Ingestor{Store: first, Workspace: "w", Funnel: storetest.Funnel()}
	for n := 1; n <= 3; n++ {
		ingestAll(t, in, dealWithTask(t, n))
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	first.Store.Close()

	again := openLookupStore(t, path)
	in = &engine.Ingestor{Store: again, Workspace: "w", Funnel: storetest.Funnel()}
	for n := 1; n <= 3; n++ {
		ingestAll(t, in, workOn(t, n))
	}
	if again.lookups == 0 {
		t.Fatal("no look-up of the deals a restarted ingestor had not seen")
	}
	if err := in.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkWorkedOn(t, again, 3)
}
