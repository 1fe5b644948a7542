package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// failingStore is a real store whose transactions fail on demand: the
// next event insert (fail, once), or every move of the projection
// checkpoint while failFlush is set.
type failingStore struct {
	funnelwatch.Store
	fail      bool
	failFlush atomic.Bool
}

type failingTx struct {
	funnelwatch.Tx
	s *failingStore
}

var errDisk = errors.New("disk on fire")

func (s *failingStore) Update(ctx context.Context, ws string, fn func(funnelwatch.Tx) error) error {
	return s.Store.Update(ctx, ws, func(tx funnelwatch.Tx) error { return fn(&failingTx{tx, s}) })
}

func (tx *failingTx) InsertEvents(ctx context.Context, events []*funnelwatch.Event) (int64, error) {
	if tx.s.fail {
		tx.s.fail = false
		return 0, errDisk
	}
	return tx.Tx.InsertEvents(ctx, events)
}

func (tx *failingTx) SetProjectionSeq(ctx context.Context, seq int64) error {
	if tx.s.failFlush.Load() {
		return errDisk
	}
	return tx.Tx.SetProjectionSeq(ctx, seq)
}

// newFailingIngestor returns an ingestor on a real SQLite store that can
// be made to fail, with one deal, D1, already ingested.
func newFailingIngestor(t *testing.T) (*failingStore, *engine.Ingestor) {
	t.Helper()
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	store := &failingStore{Store: sq}
	if err := store.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	in := &engine.Ingestor{Store: store, Workspace: "w", Funnel: storetest.Funnel()}
	if _, err := in.Ingest(ctx, decode(t,
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`)); err != nil {
		t.Fatal(err)
	}
	return store, in
}

// A batch whose transaction fails leaves neither the store nor the
// ingestor's memory changed: the retried batch is applied as new.
func TestFailedBatchLeavesNoTrace(t *testing.T) {
	ctx := context.Background()
	store, in := newFailingIngestor(t)
	move := decode(t, `{"id":"2","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"contact"}`)
	store.fail = true
	if _, err := in.Ingest(ctx, move); !errors.Is(err, errDisk) {
		t.Fatalf("Ingest with a failing store: err = %v", err)
	}
	res, err := in.Ingest(ctx, move)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0] != engine.Accepted {
		t.Fatalf("retried move: %v %q", res.Outcomes[0], res.Reasons[0])
	}
	if err := in.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	err = store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		d, err := tx.Deal(ctx, "D1")
		if err != nil {
			return err
		}
		if d.Stage != "contact" || !d.StageEnteredAt.Equal(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("after retry: %s entered %s", d.Stage, d.StageEnteredAt)
		}
		n, err := tx.EventCount(ctx)
		if n != 2 {
			t.Errorf("events = %d, want 2", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A process that stops without writing its state tables (as after kill -9)
// loses nothing: a new Ingestor on the same store folds the acknowledged
// events back in from the log before it takes new ones.
func TestRestartedIngestorReloadsState(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	sq, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sq.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	first := &engine.Ingestor{Store: sq, Workspace: "w", Funnel: storetest.Funnel()}
	if _, err := first.Ingest(ctx, decode(t,
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales","responsible":"roman"}}`,
		`{"id":"2","type":"task.created","at":"2026-11-02T10:05:00+03:00","task":{"id":"T1","deal_id":"D1"}}`,
		`{"id":"3","type":"note.added","at":"2026-11-02T12:00:00+03:00","note":{"id":"N1","deal_id":"D1","text":"Перезвонить"}}`,
	)); err != nil {
		t.Fatal(err)
	}
	sq.Close()
	sq, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	second := &engine.Ingestor{Store: sq, Workspace: "w", Funnel: storetest.Funnel()}
	// The note at 12:00 made 12:00 the deal's latest event although the
	// deal row was last written at 10:00: a move at 11:00 arriving now is
	// late and must be folded in event-time order.
	res, err := second.Ingest(ctx, decode(t,
		`{"id":"4","type":"task.completed","at":"2026-11-02T10:30:00+03:00","task_id":"T1","result":"ok"}`,
		`{"id":"5","type":"deal.stage_changed","at":"2026-11-02T11:00:00+03:00","deal_id":"D1","to_stage":"contact"}`,
		`{"id":"1","type":"deal.created","at":"2026-11-02T10:00:00+03:00","deal":{"id":"D1","pipeline":"sales"}}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0] != engine.Accepted || res.Outcomes[1] != engine.Accepted || res.Outcomes[2] != engine.Duplicate {
		t.Fatalf("outcomes %v reasons %q", res.Outcomes, res.Reasons)
	}
	if err := second.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	err = sq.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		d, err := tx.Deal(ctx, "D1")
		if err != nil {
			return err
		}
		if d.Stage != "contact" || !d.LastEventAt.Equal(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)) {
			t.Errorf("deal = %s, last event %s", d.Stage, d.LastEventAt)
		}
		task, err := tx.Task(ctx, "T1")
		if err != nil {
			return err
		}
		if task.Open() || task.Result != "ok" {
			t.Errorf("task = %+v", task)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A flush that fails is reported and tried again; nothing waiting is lost.
func TestRunRetriesFailedFlush(t *testing.T) {
	ctx := context.Background()
	store, in := newFailingIngestor(t)
	store.failFlush.Store(true)
	errs := make(chan error, 10)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(runCtx, 10*time.Millisecond, func(err error) { errs <- err }) }()
	select {
	case err := <-errs:
		if !errors.Is(err, errDisk) {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failing flush was not reported")
	}
	store.failFlush.Store(false)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("final flush: %v", err)
	}
	err := store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		_, err := tx.Deal(ctx, "D1")
		return err
	})
	if err != nil {
		t.Fatalf("the deal never reached the state tables: %v", err)
	}
}

// A late event (older than its deal's latest, as a client's events are
// behind the rules engine's action on the same deal) is checked and
// folded like any other for the events after it in its batch: a task it
// creates can be completed in the same batch. (The benchmark's two
// clients hit this when one ran ahead of the other in event time and the
// engine acted on a deal of the slower one.)
func TestLateEventCountsForTheRestOfItsBatch(t *testing.T) {
	ctx := context.Background()
	store, in := newFailingIngestor(t)
	if _, err := in.Ingest(ctx, decode(t,
		`{"id":"act:x","type":"task.created","at":"2026-11-02T12:00:00+03:00","task":{"id":"R1","deal_id":"D1","assignee":"olga"}}`)); err != nil {
		t.Fatal(err)
	}
	res, err := in.Ingest(ctx, decode(t,
		`{"id":"2","type":"task.created","at":"2026-11-02T10:05:00+03:00","task":{"id":"T1","deal_id":"D1"}}`,
		`{"id":"3","type":"task.completed","at":"2026-11-02T10:30:00+03:00","task_id":"T1","result":"ok"}`,
		`{"id":"4","type":"task.created","at":"2026-11-02T10:40:00+03:00","task":{"id":"T1","deal_id":"D1"}}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes[0] != engine.Accepted || res.Outcomes[1] != engine.Accepted || res.Outcomes[2] != engine.Rejected {
		t.Fatalf("outcomes %v reasons %q", res.Outcomes, res.Reasons)
	}
	if err := in.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	err = store.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		task, err := tx.Task(ctx, "T1")
		if err != nil {
			return err
		}
		if task.Open() || task.Result != "ok" {
			t.Errorf("task = %+v", task)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
