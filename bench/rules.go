package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// RulesReport holds the figures of one ingest run with the rules engine
// on (DESIGN §9: ≥ 50,000 events/s and ≥ 50 % of the raw insert rate).
type RulesReport struct {
	Events  int
	Batch   int
	Clients int

	Rules, Automations int // of the regulations the engine ran

	// API runs from the first request until every event is evaluated,
	// its findings, actions and checkpoint written, and the state tables
	// caught up; Acked until the last request was acknowledged.
	API, Acked time.Duration
	Raw        time.Duration // the same rows inserted straight into SQLite
	// Lag is how many events of the log the engine had not yet written
	// its findings for when the last request was acknowledged.
	Lag int64

	Findings, Open int // findings stored, and of them still open
	Actions        int // actions in the outbox
	Engine         engine.LiveStats
	HeapInUseMiB   uint64
}

// APIRate and RawRate are events per second.
func (r RulesReport) APIRate() float64 { return float64(r.Events) / r.API.Seconds() }
func (r RulesReport) RawRate() float64 { return float64(r.Events) / r.Raw.Seconds() }

// String prints the figures beside the baseline and the targets.
func (r RulesReport) String() string {
	return fmt.Sprintf("%-52s %9d events %8.2fs %10.0f events/s (target ≥ 50,000)\n", "API path with the rules engine on (evaluated, written)", r.Events, r.API.Seconds(), r.APIRate()) +
		fmt.Sprintf("%-52s %9d events %8.2fs %10.0f events/s\n", "baseline: raw SQLite insert of the same rows", r.Events, r.Raw.Seconds(), r.RawRate()) +
		fmt.Sprintf("ratio: %.0f%% of raw (target ≥ 50%%); batch %d; %d client(s); GOMAXPROCS %d\n",
			100*r.APIRate()/r.RawRate(), r.Batch, r.Clients, runtime.GOMAXPROCS(0)) +
		fmt.Sprintf("engine: %d quality rules, %d automations; %d events evaluated (%d arrived behind its clock), %d writes (%d with a snapshot of its state); %d of the events handed over at commit, not read back from the log\n",
			r.Rules, r.Automations, r.Engine.Events, r.Engine.Late, r.Engine.Written, r.Engine.Snapshots, r.Engine.Handed) +
		fmt.Sprintf("written: %d findings (%d open), %d actions; pending timers %d\n", r.Findings, r.Open, r.Actions, r.Engine.PendingTimers) +
		fmt.Sprintf("engine lag when the last request was acknowledged (%.2fs): %d events, caught up %.2fs later; Go heap in use %d MiB\n",
			r.Acked.Seconds(), r.Lag, (r.API-r.Acked).Seconds(), r.HeapInUseMiB)
}

// IngestRules is Ingest with the rules engine running, as `funnelwatch
// serve` runs it: every quality rule and automation of regs evaluated on
// the log as batches commit, findings, actions (and the events the
// actions make) written in the engine's own transactions. The clock stops
// when the engine has evaluated the whole log and written what it found,
// and the state tables have caught up. The baseline is the raw insert of
// the same rows, in the same run.
//
// The engine's wall clock is the log's: the synthetic company's hours
// arrive in seconds, so the wall clock is held at the log's start and the
// engine's clock moves with the events (as it does when events arrive as
// they happen); deadlines fire as event time passes them.
func IngestRules(ctx context.Context, dir string, regs *regulations.Regulations, o IngestOptions) (RulesReport, error) {
	o = o.withDefaults()
	rep := RulesReport{Events: o.Events, Batch: o.Batch, Clients: o.Clients, Rules: len(regs.Quality), Automations: len(regs.Automations)}
	events, start := o.Log, syntheticStart
	if events == nil {
		events = SyntheticEvents(o.Events, 1, syntheticStart)
	} else {
		rep.Events, start = len(events), events[0].At
	}
	bodies, err := clientBodies(events, o.Batch, o.Clients)
	if err != nil {
		return rep, err
	}
	srv, err := startServer(ctx, filepath.Join(dir, "rules.db"), serverConfig{regs: regs, now: func() time.Time { return start },
		observeUntil: o.ObserveUntil})
	if err != nil {
		return rep, err
	}
	defer srv.close()
	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return rep, err
	}
	began := time.Now()
	err = postAll(ctx, srv.url, bodies)
	rep.Acked = time.Since(began)
	if err == nil {
		rep.Lag, err = srv.lag(ctx)
	}
	if err == nil {
		err = srv.caughtUp(ctx, 5*time.Millisecond)
	}
	if err == nil {
		err = srv.in.Flush(ctx)
	}
	rep.API = time.Since(began)
	stopProfile()
	if err != nil {
		return rep, err
	}
	rep.Engine = srv.live.Stats()
	open := true
	err = srv.store.View(ctx, workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		if rep.Findings, err = tx.CountViolations(ctx, funnelwatch.ViolationFilter{}); err != nil {
			return err
		}
		if rep.Open, err = tx.CountViolations(ctx, funnelwatch.ViolationFilter{Open: &open}); err != nil {
			return err
		}
		actions, err := tx.Actions(ctx, funnelwatch.ActionFilter{})
		rep.Actions = len(actions)
		return err
	})
	if err != nil {
		return rep, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInUseMiB = ms.HeapInuse >> 20
	if err := srv.close(); err != nil {
		return rep, err
	}
	if rep.Raw, err = rawInsert(ctx, filepath.Join(dir, "raw.db"), events, o.Batch); err != nil {
		return rep, err
	}
	return rep, nil
}
