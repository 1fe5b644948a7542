package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/regulations"
)

//go:embed bench_regulations.yaml
var benchRegulations []byte

const benchUsage = `bench ingest [--events N] [--batch N] [--clients N] [--rules]
  | bench latency [--rate N] [--seconds N] [--history N]
  | bench memory [--deals N]
  | bench restart [--deals N]
  | bench dashboard [--deals N] [--events N] [--requests N] [--warmup N] [--pages]`

// runBench measures funnelwatch against a baseline taken in the same run
// (DESIGN §9: numbers beside a baseline, never a timed test).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("%s", benchUsage)
	}
	switch args[0] {
	case "ingest":
		return benchIngest(ctx, args[1:], stdout, stderr)
	case "latency":
		return benchLatency(ctx, args[1:], stdout, stderr)
	case "memory":
		return benchMemory(ctx, args[1:], stdout, stderr)
	case "restart":
		return benchRestart(ctx, args[1:], stdout, stderr)
	case "dashboard":
		return benchDashboard(ctx, args[1:], stdout, stderr)
	}
	return usageErr("%s", benchUsage)
}

// benchFlags are the flags every benchmark takes.
type benchFlags struct {
	dir        *string
	cpuprofile *string
}

func addBenchFlags(fs *flag.FlagSet) benchFlags {
	return benchFlags{
		dir:        fs.String("dir", "", "directory for the databases (default: a temporary one, removed after)"),
		cpuprofile: fs.String("cpuprofile", "", "write a CPU profile of the measured path to this file"),
	}
}

// setUp makes the working directory (removed by the returned cleanup when
// temporary), opens the profile file and parses the bench regulations.
func (b benchFlags) setUp() (dir string, profile io.Writer, regs *regulations.Regulations, cleanup func(), err error) {
	var closers []func()
	cleanup = func() {
		for _, c := range closers {
			c()
		}
	}
	dir = *b.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "funnelwatch-bench-"); err != nil {
			return
		}
		closers = append(closers, func() { os.RemoveAll(dir) })
	}
	if *b.cpuprofile != "" {
		f, e := os.Create(*b.cpuprofile)
		if e != nil {
			cleanup()
			return "", nil, nil, nil, e
		}
		closers = append(closers, func() { f.Close() })
		profile = f
	}
	if regs, err = regulations.Parse(benchRegulations); err != nil {
		cleanup()
		return "", nil, nil, nil, err
	}
	return dir, profile, regs, cleanup, nil
}

func benchIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench ingest", stderr)
	n := fs.Int("events", 1_000_000, "events to ingest")
	batch := fs.Int("batch", 1000, "events per API request")
	clients := fs.Int("clients", 2, "concurrent HTTP clients, each sending the events of its own deals")
	rules := fs.Bool("rules", false, "run the rules engine (every quality rule and automation of the bench regulations) and wait until it has evaluated every event")
	company := fs.String("company", "synthetic", "with --rules: synthetic (every task falls overdue: the worst case), or demo (the demo company's 90 days and regulations, as after an import; --events is then its size)")
	bf := addBenchFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 || *clients < 1 {
		return usageErr("--events, --batch and --clients must be positive")
	}
	dir, profile, regs, cleanup, err := bf.setUp()
	if err != nil {
		return err
	}
	defer cleanup()
	o := bench.IngestOptions{Events: *n, Batch: *batch, Clients: *clients, Profile: profile}
	if !*rules {
		fmt.Fprintf(stdout, "ingesting %d synthetic events in batches of %d from %d client(s)…\n", *n, *batch, *clients)
		rep, err := bench.Ingest(ctx, dir, &regs.Funnel, o)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, rep)
		return nil
	}
	switch *company {
	case "synthetic":
		fmt.Fprintf(stdout, "ingesting %d synthetic events in batches of %d from %d client(s), rules engine on…\n", *n, *batch, *clients)
	case "demo":
		// The demo company's history, sized by its leads a day, with its
		// own regulations; the robots' work is in the log, so their
		// actions over it are observed, as after `funnelwatch import`.
		end := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
		perDay := max(1, demo.DefaultLeadsPerDay**n/51000)
		co, err := demo.Generate(demo.Options{Seed: 1, End: end, LeadsPerDay: perDay})
		if err != nil {
			return err
		}
		if regs, err = regulations.Parse(co.Regulations); err != nil {
			return err
		}
		o.Log, o.ObserveUntil = co.Events, end
		fmt.Fprintf(stdout, "ingesting the demo company's %d events (%d leads a day over 90 days) in batches of %d from %d client(s), its regulations' rules engine on…\n",
			len(co.Events), perDay, *batch, *clients)
	default:
		return usageErr("--company is synthetic or demo")
	}
	rep, err := bench.IngestRules(ctx, dir, regs, o)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	return nil
}

func benchLatency(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench latency", stderr)
	rate := fs.Int("rate", 1000, "events per second to send")
	seconds := fs.Float64("seconds", 60, "how long to send (a minute: long enough for the engine to store a snapshot of its state)")
	history := fs.Int("history", 0, "events of the same company in the log before the clock starts")
	bf := addBenchFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rate < 1 || *seconds <= 0 {
		return usageErr("--rate and --seconds must be positive")
	}
	dir, profile, regs, cleanup, err := bf.setUp()
	if err != nil {
		return err
	}
	defer cleanup()
	if *history < 0 {
		return usageErr("--history must not be negative")
	}
	fmt.Fprintf(stdout, "posting %d events/s for %gs over loopback HTTP, rules engine on the wall clock, %d events of history…\n", *rate, *seconds, *history)
	rep, err := bench.Latency(ctx, dir, regs, bench.LatencyOptions{Rate: *rate, Duration: time.Duration(*seconds * float64(time.Second)),
		History: *history, Profile: profile})
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	return nil
}

func benchMemory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench memory", stderr)
	memprofile := fs.String("memprofile", "", "write a heap profile, taken with the engine holding the deals, to this file")
	mapped := fs.Bool("mapped", false, "the engine's first read of the log through the store's memory-mapped readers (as before sqlite.OpenLogReader)")
	deals, dir, profile, regs, cleanup, err := setUpDeals(fs, args)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(stdout, "loading %d open deals with deadlines, then the rules engine…\n", deals)
	stop, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	o := bench.MemoryOptions{Deals: deals, Mapped: *mapped}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.HeapProfile = f
	}
	rep, err := bench.Memory(ctx, dir, regs, o)
	stop()
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	return nil
}

// setUpDeals parses the flags of a benchmark of open deals (--deals, and
// those of every benchmark) and sets it up (see benchFlags.setUp).
func setUpDeals(fs *flag.FlagSet, args []string) (deals int, dir string, profile io.Writer, regs *regulations.Regulations, cleanup func(), err error) {
	n := fs.Int("deals", 1_000_000, "open deals, each with deadlines pending")
	bf := addBenchFlags(fs)
	if err = fs.Parse(args); err != nil {
		return
	}
	if *n < 1 {
		err = usageErr("--deals must be positive")
		return
	}
	dir, profile, regs, cleanup, err = bf.setUp()
	return *n, dir, profile, regs, cleanup, err
}

func benchRestart(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	deals, dir, profile, regs, cleanup, err := setUpDeals(newFlags("bench restart", stderr), args)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(stdout, "loading %d open deals with deadlines, then starting the rules engine: reading the whole log, and from its snapshot…\n", deals)
	stop, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	rep, err := bench.Restart(ctx, dir, regs, deals)
	stop()
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	return nil
}

func benchDashboard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench dashboard", stderr)
	deals := fs.Int("deals", 1_000_000, "deals in the store")
	events := fs.Int("events", 20_000_000, "events in the log (at least the deals' own, about 9 a deal)")
	requests := fs.Int("requests", 100, "timed requests of each page")
	warmup := fs.Int("warmup", 2, "untimed rounds of requests first")
	pages := fs.Bool("pages", false, "time the other pages too: violations, deals board, the team's tasks, managers")
	bf := addBenchFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *deals < 1 || *events < 0 || *requests < 1 {
		return usageErr("--deals and --requests must be positive")
	}
	dir, profile, _, cleanup, err := bf.setUp()
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintf(stdout, "a store of %d deals and %d events (reused from --dir when built there before), then %d requests of each page…\n", *deals, *events, *requests)
	stop, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	rep, err := bench.RunDashboard(ctx, bench.DashboardConfig{Dir: dir, Deals: *deals, Events: *events, Requests: *requests, Warmup: *warmup, Pages: *pages, Seed: 1, Log: stderr})
	stop()
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	return nil
}

// startCPUProfile starts a CPU profile into w (nothing when w is nil) and
// returns what stops it.
func startCPUProfile(w io.Writer) (func(), error) {
	if w == nil {
		return func() {}, nil
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return nil, err
	}
	return pprof.StopCPUProfile, nil
}
