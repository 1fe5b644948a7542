package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/regulations"
)

//go:embed bench_regulations.yaml
var benchRegulations []byte

// runBench measures the ingest path against a baseline taken in the same
// run (DESIGN §9: numbers beside a baseline, never a timed test).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "ingest" {
		return usageErr("bench ingest [--events N] [--batch N]")
	}
	fs := newFlags("bench ingest", stderr)
	n := fs.Int("events", 1_000_000, "events to ingest")
	batch := fs.Int("batch", 1000, "events per API request")
	clients := fs.Int("clients", 2, "concurrent HTTP clients, each sending the events of its own deals")
	dir := fs.String("dir", "", "directory for the databases (default: a temporary one, removed after)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *n < 1 || *batch < 1 {
		return usageErr("--events and --batch must be positive")
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "funnelwatch-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	regs, err := regulations.Parse(benchRegulations)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ingesting %d synthetic events in batches of %d from %d client(s)…\n", *n, *batch, *clients)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Ingest(ctx, *dir, &regs.Funnel, *n, *batch, *clients)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	return nil
}
