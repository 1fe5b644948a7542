package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/bench"
)

// The harness, not the speed: with the engine on, every event of the log
// is evaluated and its findings and actions are written before the clock
// stops, and nothing is rejected.
func TestBenchIngestRulesEvaluatesEverything(t *testing.T) {
	rep, err := bench.IngestRules(context.Background(), t.TempDir(), benchRegulations(t), bench.IngestOptions{Events: 5000, Batch: 500, Clients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Engine.Events < 5000 || rep.Findings == 0 || rep.Actions == 0 || rep.API < rep.Acked || rep.Raw <= 0 {
		t.Errorf("engine read %d events, wrote %d findings and %d actions; API %v, acknowledged %v, raw %v",
			rep.Engine.Events, rep.Findings, rep.Actions, rep.API, rep.Acked, rep.Raw)
	}
}

// Every marker the client sends opens a finding the engine stores, and
// each is timed once.
func TestBenchLatencyTimesEveryMarker(t *testing.T) {
	rep, err := bench.Latency(context.Background(), t.TempDir(), benchRegulations(t), bench.LatencyOptions{Rate: 400, Duration: 500 * time.Millisecond, History: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Markers != 50 || len(rep.Finding) != rep.Markers || len(rep.RoundTrip) != rep.Markers || rep.Sent != 200 {
		t.Errorf("%d markers, %d timed, %d round trips, %d events sent", rep.Markers, len(rep.Finding), len(rep.RoundTrip), rep.Sent)
	}
	if rep.Finding[0] <= 0 || bench.Quantile(rep.Finding, 1) < bench.Quantile(rep.Finding, 0.5) {
		t.Errorf("latencies not sorted and positive: %v", rep.Finding)
	}
}

// The memory benchmark's deals are open, clean and waiting: a deadline
// or more each, no finding yet.
func TestBenchMemoryHoldsDeadlines(t *testing.T) {
	rep, err := bench.Memory(context.Background(), t.TempDir(), benchRegulations(t), bench.MemoryOptions{Deals: 2000})
	if err != nil {
		t.Fatal(err)
	}
	// Five deadlines a deal under these regulations (the rules' checks of
	// the task's due time, the stage's SLA and the pipeline's lifetime,
	// and two robots' firings): every one counted, though the monitor's
	// and the automations' agendas hold only each deal's first.
	if rep.Events != 6000 || rep.Stats.Events != 6000 || rep.Stats.OpenFindings != 0 || rep.Stats.PendingTimers != 5*2000 {
		t.Errorf("%d events ingested, %d evaluated, %d open findings, %d timers", rep.Events, rep.Stats.Events, rep.Stats.OpenFindings, rep.Stats.PendingTimers)
	}
	if rep.Engine.RSS == 0 || rep.Engine.HeapAlloc <= rep.Start.HeapAlloc {
		t.Errorf("memory samples: %+v", rep)
	}
}

// The restart benchmark's second engine resumes from the snapshot the
// first stored at its stop, with the same timers (Restart checks that
// itself, and fails otherwise).
func TestBenchRestartResumesFromTheSnapshot(t *testing.T) {
	rep, err := bench.Restart(context.Background(), t.TempDir(), benchRegulations(t), 2000)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ResumedStats.Restored != int64(rep.Events) || rep.SnapshotBytes == 0 || rep.FullStats.PendingTimers != 5*2000 {
		t.Errorf("resumed at seq %d of %d events; snapshot %d bytes; %d timers", rep.ResumedStats.Restored, rep.Events, rep.SnapshotBytes, rep.FullStats.PendingTimers)
	}
}

func TestQuantile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, ms(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, ms(50)}, {0.99, ms(99)}, {1, ms(100)}, {0, ms(1)}} {
		if got := bench.Quantile(d, c.q); got != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	if bench.Quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}

// BenchmarkIngestRules reports the API path with the rules engine on and
// the raw-insert baseline of the same run.
func BenchmarkIngestRules(b *testing.B) {
	regs := benchRegulations(b)
	for b.Loop() {
		rep, err := bench.IngestRules(context.Background(), b.TempDir(), regs, bench.IngestOptions{Events: 50_000, Batch: 1000, Clients: 2})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.APIRate(), "rules-events/s")
		b.ReportMetric(rep.RawRate(), "raw-events/s")
		b.ReportMetric(100*rep.APIRate()/rep.RawRate(), "%-of-raw")
	}
}

// BenchmarkLatency reports event → finding latency at 1,000 events/s and
// the ingest round trip of the same requests.
func BenchmarkLatency(b *testing.B) {
	regs := benchRegulations(b)
	for b.Loop() {
		rep, err := bench.Latency(context.Background(), b.TempDir(), regs, bench.LatencyOptions{Rate: 1000, Duration: 3 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(bench.Quantile(rep.Finding, 0.99).Microseconds())/1000, "finding-p99-ms")
		b.ReportMetric(float64(bench.Quantile(rep.Finding, 0.5).Microseconds())/1000, "finding-p50-ms")
		b.ReportMetric(float64(bench.Quantile(rep.RoundTrip, 0.99).Microseconds())/1000, "roundtrip-p99-ms")
	}
}

// BenchmarkMemory reports the RSS with the engine holding open deals and
// the Ingestor-only baseline.
func BenchmarkMemory(b *testing.B) {
	regs := benchRegulations(b)
	for b.Loop() {
		rep, err := bench.Memory(context.Background(), b.TempDir(), regs, bench.MemoryOptions{Deals: 50_000})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Engine.RSS)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(rep.Cache.RSS)/(1<<20), "baseline-rss-MiB")
		b.ReportMetric(float64(rep.Stats.PendingTimers), "timers")
	}
}
