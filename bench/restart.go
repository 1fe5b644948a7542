package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// RestartReport holds the figures of one restart run: how long the rules
// engine takes to be back where it was when the server starts, reading
// the whole log (the baseline: how every start went before snapshots)
// and resuming from its snapshot.
type RestartReport struct {
	Deals, Events int
	Ingest        time.Duration
	// FullRead is the engine's first step on the whole log; Snapshot the
	// step that stores one (a graceful stop); Resume the first step of a
	// new engine that reads it and the log after it.
	FullRead, Snapshot, Resume time.Duration
	SnapshotBytes              int
	// FullStats and ResumedStats are the two engines' gauges after their
	// first step: the same open findings and timers, or the resumed one
	// is not where the other was.
	FullStats, ResumedStats engine.LiveStats
	// FullMem and ResumedMem are the process with each engine holding
	// the deals (after a collection); the peaks, the highest RSS during
	// the full read, the snapshot and the resume (VmHWM, reset between
	// them where the kernel allows it).
	FullMem, ResumedMem                MemSample
	FullPeak, SnapshotPeak, ResumePeak uint64
}

// String prints the two starts side by side.
func (r RestartReport) String() string {
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	return fmt.Sprintf("%d open deals, %d events: ingested in %.1fs\n", r.Deals, r.Events, r.Ingest.Seconds()) +
		fmt.Sprintf("baseline: the engine reads the whole log        %8.2fs  (%.0f events/s)  RSS %6.0f MiB, Go heap live %6.0f MiB  %d timers, %d open findings\n",
			r.FullRead.Seconds(), float64(r.Events)/r.FullRead.Seconds(), mib(r.FullMem.RSS), mib(r.FullMem.HeapAlloc), r.FullStats.PendingTimers, r.FullStats.OpenFindings) +
		fmt.Sprintf("snapshot stored (graceful stop)                 %8.2fs  %.1f MiB, %.0f bytes a deal\n",
			r.Snapshot.Seconds(), float64(r.SnapshotBytes)/(1<<20), float64(r.SnapshotBytes)/float64(max(r.Deals, 1))) +
		fmt.Sprintf("resumed: snapshot and the log after it          %8.2fs  (%.1f× faster)  RSS %6.0f MiB, Go heap live %6.0f MiB  %d timers, %d open findings, resumed at seq %d\n",
			r.Resume.Seconds(), r.FullRead.Seconds()/r.Resume.Seconds(), mib(r.ResumedMem.RSS), mib(r.ResumedMem.HeapAlloc), r.ResumedStats.PendingTimers, r.ResumedStats.OpenFindings, r.ResumedStats.Restored) +
		fmt.Sprintf("peak RSS (VmHWM): during the full read %.0f MiB, storing the snapshot %.0f MiB, resuming %.0f MiB\n",
			mib(r.FullPeak), mib(r.SnapshotPeak), mib(r.ResumePeak))
}

// resetPeak sets the process's peak RSS (VmHWM) to its RSS now, where
// Linux allows it (clear_refs 5); elsewhere the peak stays the run's.
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// Restart fills a fresh SQLite store in dir with n open deals (as Memory
// does: each with deadlines pending), then starts the engine over it,
// which reads the whole log (the baseline), stops it as a graceful stop
// does (storing a snapshot), and starts a new engine, which resumes from
// the snapshot.
func Restart(ctx context.Context, dir string, regs *regulations.Regulations, n int) (RestartReport, error) {
	rep := RestartReport{Deals: n}
	path := filepath.Join(dir, "restart.db")
	store, err := openWorkspace(ctx, path)
	if err != nil {
		return rep, err
	}
	defer store.Close()
	in := &engine.Ingestor{Store: store, Workspace: workspace, Funnel: &regs.Funnel}
	start := time.Now()
	last, events, err := loadOpenDeals(ctx, in, n)
	rep.Events = events
	if err != nil {
		return rep, err
	}
	if err := in.Flush(ctx); err != nil {
		return rep, err
	}
	rep.Ingest = time.Since(start)
	logStore, err := sqlite.OpenLogReader(ctx, path)
	if err != nil {
		return rep, err
	}
	defer logStore.Close()
	now := func() time.Time { return last }

	// The first start reads the whole log (there is no snapshot yet: the
	// baseline); SnapshotEvery keeps it from storing one on its own, so
	// the stop that follows stores it, as a graceful stop does.
	first := &engine.Live{Store: store, Log: logStore, Workspace: workspace, Regs: regs, Ingestor: in, Now: now, SnapshotEvery: math.MaxInt}
	resetPeak()
	start = time.Now()
	if err := first.Step(ctx); err != nil {
		return rep, err
	}
	rep.FullRead = time.Since(start)
	rep.FullStats = first.Stats()
	rep.FullPeak = readMemory().Peak
	rep.FullMem = SampleMemory()
	resetPeak()
	start = time.Now()
	if err := first.StepAndSnapshot(ctx); err != nil {
		return rep, err
	}
	rep.Snapshot = time.Since(start)
	rep.SnapshotPeak = readMemory().Peak
	if first.Stats().Snapshots != 1 || first.Stats().Restored != 0 {
		return rep, fmt.Errorf("restart bench: the first engine resumed at %d and stored %d snapshots", first.Stats().Restored, first.Stats().Snapshots)
	}
	runtime.KeepAlive(first)
	first = nil
	err = store.View(ctx, workspace, func(tx funnelwatch.ReadTx) error {
		s, err := tx.EngineSnapshot(ctx)
		rep.SnapshotBytes = len(s.Data)
		return err
	})
	if err != nil {
		return rep, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak()

	resumed := &engine.Live{Store: store, Log: logStore, Workspace: workspace, Regs: regs, Ingestor: in, Now: now}
	start = time.Now()
	if err := resumed.Step(ctx); err != nil {
		return rep, err
	}
	rep.Resume = time.Since(start)
	rep.ResumePeak = readMemory().Peak
	rep.ResumedStats = resumed.Stats()
	rep.ResumedMem = SampleMemory()
	if rep.ResumedStats.Restored == 0 {
		return rep, fmt.Errorf("restart bench: the engine did not resume from its snapshot")
	}
	if rep.ResumedStats.PendingTimers != rep.FullStats.PendingTimers || rep.ResumedStats.OpenFindings != rep.FullStats.OpenFindings {
		return rep, fmt.Errorf("restart bench: resumed with %d timers and %d open findings, the full read had %d and %d",
			rep.ResumedStats.PendingTimers, rep.ResumedStats.OpenFindings, rep.FullStats.PendingTimers, rep.FullStats.OpenFindings)
	}
	runtime.KeepAlive(resumed)
	return rep, nil
}
