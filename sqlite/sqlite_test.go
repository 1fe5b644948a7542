package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// MustOpen opens a fresh SQLite store in the test's temporary directory.
func MustOpen(tb testing.TB) funnelwatch.Store {
	tb.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "fw.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, MustOpen) }

func TestReopenKeepsDataAndMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, "w", func(tx funnelwatch.Tx) error {
		_, err := tx.InsertEvent(ctx, &funnelwatch.Event{ID: "e1", Type: funnelwatch.EventDealDeleted, DealID: "D1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	_ = s.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		if n, _ := tx.EventCount(ctx); n != 1 {
			t.Errorf("after reopen EventCount = %d, want 1", n)
		}
		return nil
	})
}

// TestLogReader reads the log written through the store, and refuses to
// write.
func TestLogReader(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.EnsureWorkspace(ctx, "w", "W"); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, "w", func(tx funnelwatch.Tx) error {
		for _, id := range []string{"e1", "e2"} {
			e := &funnelwatch.Event{ID: id, Type: funnelwatch.EventDealDeleted, DealID: "D1", At: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}
			if _, err := tx.InsertEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.OpenLogReader(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	err = r.View(ctx, "w", func(tx funnelwatch.ReadTx) error {
		events, err := tx.Events(ctx, funnelwatch.EventFilter{AfterSeq: 0, BySeq: true, Limit: 10})
		if err != nil {
			return err
		}
		if len(events) != 2 || events[0].ID != "e1" || events[1].ID != "e2" {
			t.Errorf("events %+v, want e1, e2", events)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Update(ctx, "w", func(tx funnelwatch.Tx) error {
		_, err := tx.InsertEvent(ctx, &funnelwatch.Event{ID: "e3", Type: funnelwatch.EventDealDeleted, DealID: "D1"})
		return err
	})
	if err == nil {
		t.Error("the log reader wrote an event")
	}
}

// Committed pages reach the database file without a commit that
// checkpoints: the WAL is copied back behind the writer, long before the
// writer's own automatic checkpoint (~240 MiB of WAL) would.
func TestWALIsCheckpointedBehindTheWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fw.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureWorkspace(ctx, "ws", "W"); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// Let a checkpoint of what Open and EnsureWorkspace wrote pass.
	time.Sleep(1500 * time.Millisecond)
	before := size()
	for i := range 20 {
		err := st.Update(ctx, "ws", func(tx funnelwatch.Tx) error {
			var evs []*funnelwatch.Event
			for j := range 200 {
				e, err := funnelwatch.DecodeEvent(fmt.Appendf(nil,
					`{"id":"e%d-%d","type":"note.added","at":"2026-11-23T10:00:00+03:00","note":{"id":"N%d-%d","deal_id":"D1","text":"%s"}}`,
					i, j, i, j, strings.Repeat("текст ", 50)))
				if err != nil {
					return err
				}
				evs = append(evs, &e)
			}
			_, err := tx.InsertEvents(ctx, evs)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); size() <= before; {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes: nothing was checkpointed", before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
