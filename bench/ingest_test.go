package bench_test

import (
	"context"
	"testing"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/storetest"
)

// The synthetic log must be valid for the funnel: every event accepted.
func TestSyntheticEventsAreValid(t *testing.T) {
	events := bench.SyntheticEvents(20000, 7, storetestBase)
	types := map[funnelwatch.EventType]int{}
	for _, e := range events {
		types[e.Type]++
	}
	for _, typ := range []funnelwatch.EventType{funnelwatch.EventDealCreated, funnelwatch.EventTaskCreated, funnelwatch.EventTaskCompleted,
		funnelwatch.EventCall, funnelwatch.EventNoteAdded, funnelwatch.EventDealStageChanged} {
		if types[typ] < 500 {
			t.Errorf("only %d %s events in 20,000", types[typ], typ)
		}
	}
	store := storetestOpen(t)
	in := &engine.Ingestor{Store: store, Workspace: "b", Funnel: storetest.Funnel()}
	if err := store.EnsureWorkspace(context.Background(), "b", "B"); err != nil {
		t.Fatal(err)
	}
	res, err := in.Ingest(context.Background(), events)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Reasons {
		if r != "" {
			t.Fatalf("event %s rejected: %s", events[i].ID, r)
		}
	}
}

// BenchmarkIngest reports the API path and the raw-insert baseline of the
// same run as custom metrics.
func BenchmarkIngest(b *testing.B) {
	for b.Loop() {
		rep, err := bench.Ingest(context.Background(), b.TempDir(), storetest.Funnel(), bench.IngestOptions{Events: 100_000, Batch: 1000, Clients: 2})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.APIRate(), "api-events/s")
		b.ReportMetric(rep.RawRate(), "raw-events/s")
		b.ReportMetric(100*rep.APIRate()/rep.RawRate(), "%-of-raw")
	}
}

// Each client's stream keeps its deals whole and in order, so the
// concurrent benchmark rejects nothing.
func TestPartitionKeepsDealsTogether(t *testing.T) {
	events := bench.SyntheticEvents(5000, 3, storetestBase)
	streams := bench.Partition(events, 3)
	where := map[string]int{}
	total := 0
	for i, s := range streams {
		total += len(s)
		for _, e := range s {
			if d := e.DealRef(); d != "" {
				if w, ok := where[d]; ok && w != i {
					t.Fatalf("deal %s in streams %d and %d", d, w, i)
				}
				where[d] = i
			}
		}
	}
	if total != len(events) || len(streams[0]) == 0 || len(streams[2]) == 0 {
		t.Errorf("streams of %d events: %d, %d, %d", len(events), len(streams[0]), len(streams[1]), len(streams[2]))
	}
}
