package bench_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

var updateGolden = flag.Bool("update-golden", false, "write bench/testdata/backtest.golden from this build's output")

// TestBacktestGolden replays 100,000 synthetic events, and the demo
// company's 90 days, (plus 72 hours, so
// the deadlines left pass) with every rule and robot, in both modes, and
// compares a digest of the JSON of every finding and action, in the order
// given, with the one the engine gave when the file was written: any
// change in what the engine finds or does, down to a byte of evidence,
// fails it. FW_GOLDEN_DUMP=DIR writes the JSON lines there, to compare
// two builds with diff.
func TestBacktestGolden(t *testing.T) {
	regs := benchRegulations(t)
	events := bench.SyntheticEvents(100_000, 7, storetestBase)
	var got strings.Builder
	goldenDigest(t, &got, "", regs, events, events[len(events)-1].At.Add(72*time.Hour))
	// The demo company's 90 days under its own regulations: the rules
	// the synthetic log never trips (junk in fields, expressions,
	// missed calls, the warm-up pipeline's robots).
	end := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
	co, err := demo.Generate(demo.Options{Seed: 1, End: end})
	if err != nil {
		t.Fatal(err)
	}
	dregs, err := regulations.Parse(co.Regulations)
	if err != nil {
		t.Fatal(err)
	}
	goldenDigest(t, &got, "demo ", dregs, co.Events, end.Add(72*time.Hour))
	const path = "testdata/backtest.golden"
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("the backtest's output changed:\n got  %s want %s", got.String(), want)
	}
}

// goldenDigest backtests the log in both modes and writes a line per
// mode: the counts and the digest of the JSON of every finding, action
// and skipped event, in the order given.
func goldenDigest(t *testing.T, got *strings.Builder, name string, regs *regulations.Regulations, events []funnelwatch.Event, until time.Time) {
	t.Helper()
	for _, mode := range []engine.Mode{engine.Simulate, engine.Observe} {
		res, err := engine.Backtest(regs, events, until, mode)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		var dump *os.File
		if dir := os.Getenv("FW_GOLDEN_DUMP"); dir != "" {
			if dump, err = os.Create(fmt.Sprintf("%s/%s%s.jsonl", dir, strings.TrimSpace(name), mode)); err != nil {
				t.Fatal(err)
			}
		}
		write := func(v any) {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			h.Write(b)
			if dump != nil {
				dump.Write(b)
			}
		}
		for _, v := range res.Violations {
			write(v)
		}
		for _, x := range res.Actions {
			write(x)
		}
		for _, s := range res.Skipped {
			write(s)
		}
		if dump != nil {
			dump.Close()
		}
		fmt.Fprintf(got, "%s%s: %d findings, %d actions, %d skipped, sha256 %s\n", name, mode, len(res.Violations), len(res.Actions),
			len(res.Skipped), hex.EncodeToString(h.Sum(nil)))
	}
}
