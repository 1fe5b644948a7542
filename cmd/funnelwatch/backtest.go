package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// runBacktest replays an event log against regulations on a simulated
// clock and prints what they find (DESIGN §4.3).
func runBacktest(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("backtest", stderr)
	regsPath := fs.String("regulations", "", "regulations file (YAML)")
	eventsPath := fs.String("events", "", "event log (NDJSON)")
	untilFlag := fs.String("until", "", "run the clock to this time (RFC 3339; default: the last event)")
	format := fs.String("format", "text", "output: text or json")
	mode := fs.String("mode", "simulate", "simulate (apply the automations' actions) or observe (take the history as it is)")
	compare := fs.String("compare", "", "older regulations file to show side by side")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *regsPath == "" || *eventsPath == "" {
		return usageErr("--regulations FILE and --events FILE.ndjson are required")
	}
	if *mode != "simulate" && *mode != "observe" {
		return usageErr("--mode must be simulate or observe")
	}
	if *format != "text" && *format != "json" {
		return usageErr("--format must be text or json")
	}
	var until time.Time
	if *untilFlag != "" {
		var err error
		if until, err = time.Parse(time.RFC3339, *untilFlag); err != nil {
			return usageErr("--until: %v", err)
		}
	}
	events, err := readEventLog(*eventsPath)
	if err != nil {
		return err
	}
	regs, err := regulations.ParseFile(*regsPath)
	if err != nil {
		return fmt.Errorf("regulations %s: %w", *regsPath, err)
	}
	res, err := engine.Backtest(regs, events, until, engine.Mode(*mode))
	if err != nil {
		return err
	}
	for i, s := range res.Skipped {
		if i == 10 {
			fmt.Fprintf(stderr, "… and %d more skipped events\n", len(res.Skipped)-i)
			break
		}
		fmt.Fprintf(stderr, "skipped event %s (line %d): %s\n", s.ID, s.Index+1, s.Reason)
	}
	if len(res.Skipped) > 0 && *mode == string(engine.Simulate) {
		fmt.Fprintln(stderr, "(in simulate mode the automations change the funnel; a history recorded by a CRM that ran its own robots is for --mode observe)")
	}
	var old *engine.BacktestResult
	if *compare != "" {
		oldRegs, err := regulations.ParseFile(*compare)
		if err != nil {
			return fmt.Errorf("regulations %s: %w", *compare, err)
		}
		if old, err = engine.Backtest(oldRegs, events, until, engine.Mode(*mode)); err != nil {
			return err
		}
	}
	if *format == "json" {
		out := map[string]any{"violations": violationsJSON(res.Violations, regs.Location), "actions": engine.ActionViews(res.Actions, regs.Location)}
		if old != nil {
			out = map[string]any{"new": out, "old": map[string]any{"violations": violationsJSON(old.Violations, regs.Location),
				"actions": engine.ActionViews(old.Actions, regs.Location)}}
		}
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	printSummary(stdout, *regsPath, res, *compare, old)
	return nil
}

// readEventLog reads an NDJSON event log; a malformed line is an error
// naming the line, since a backtest of part of a history would mislead.
// The lines are decoded on every core, in chunks, and put back in the
// file's order: decoding was half of a backtest's time on one core.
func readEventLog(path string) ([]funnelwatch.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	work := make(chan *logChunk)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for c := range work {
				c.decode(path)
			}
		})
	}
	var chunks []*logChunk
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	line := 0
	c := &logChunk{first: 1}
	for sc.Scan() {
		line++
		c.add(sc.Bytes())
		if len(c.ends) == logChunkLines {
			chunks = append(chunks, c)
			work <- c
			c = &logChunk{first: line + 1}
		}
	}
	chunks = append(chunks, c)
	work <- c
	close(work)
	wg.Wait()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	n := 0
	for _, c := range chunks {
		if c.err != nil {
			return nil, c.err // the first malformed line of the file
		}
		n += len(c.events)
	}
	events := make([]funnelwatch.Event, 0, n)
	for _, c := range chunks {
		events = append(events, c.events...)
	}
	return events, nil
}

// logChunkLines is how many lines of an event log a decoder takes at a
// time.
const logChunkLines = 2048

// logChunk is a run of an event log's lines, copied into one buffer, and
// what they decode to.
type logChunk struct {
	first  int    // the line number of its first line
	buf    []byte // the lines, one after the other
	ends   []int  // where each line ends in buf
	events []funnelwatch.Event
	err    error
}

func (c *logChunk) add(line []byte) {
	c.buf = append(c.buf, line...)
	c.ends = append(c.ends, len(c.buf))
}

// decode decodes the chunk's lines, stopping at the first malformed one.
func (c *logChunk) decode(path string) {
	c.events = make([]funnelwatch.Event, 0, len(c.ends))
	start := 0
	for i, end := range c.ends {
		b := c.buf[start:end]
		start = end
		if len(b) == 0 {
			continue
		}
		e, err := funnelwatch.DecodeEvent(b)
		if err != nil {
			c.err = fmt.Errorf("%s line %d: %s", path, c.first+i, funnelwatch.ErrorMessage(err))
			break
		}
		c.events = append(c.events, e)
	}
	c.buf, c.ends = nil, nil
}

type violationJSON struct {
	Rule       string  `json:"rule"`
	Severity   string  `json:"severity"`
	DealID     string  `json:"deal_id"`
	TaskID     string  `json:"task_id,omitempty"`
	CallID     string  `json:"call_id,omitempty"`
	User       string  `json:"user"`
	Pipeline   string  `json:"pipeline"`
	Stage      string  `json:"stage"`
	OpenedAt   string  `json:"opened_at"`
	ResolvedAt *string `json:"resolved_at"`
	// Beyond the contract: what the finding says, Russian first.
	Message        string `json:"message,omitempty"`
	Recommendation string `json:"recommendation,omitempty"`
	Metric         string `json:"metric,omitempty"` // anomaly
}

// violationsJSON renders findings in the backtest contract, times in the
// company's timezone, ordered by opening time, rule, deal, task, call.
func violationsJSON(vs []*engine.Violation, loc *time.Location) []violationJSON {
	sorted := slices.Clone(vs)
	slices.SortStableFunc(sorted, func(a, b *engine.Violation) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.DealID, b.DealID),
			cmp.Compare(a.TaskID, b.TaskID), cmp.Compare(a.CallID, b.CallID))
	})
	out := make([]violationJSON, 0, len(sorted))
	for _, v := range sorted {
		j := violationJSON{Rule: v.Rule, Severity: string(v.Severity), DealID: v.DealID, TaskID: v.TaskID, CallID: v.CallID,
			User: v.User, Pipeline: v.Pipeline, Stage: v.Stage, OpenedAt: v.OpenedAt.In(loc).Format(time.RFC3339),
			Message: v.Text.Message.RU, Recommendation: v.Text.Recommendation.RU, Metric: v.Metric}
		if v.ResolvedAt != nil {
			s := v.ResolvedAt.In(loc).Format(time.RFC3339)
			j.ResolvedAt = &s
		}
		out = append(out, j)
	}
	return out
}

// printSummary prints the findings by rule, stage and manager.
func printSummary(w io.Writer, path string, res *engine.BacktestResult, oldPath string, old *engine.BacktestResult) {
	type counts map[string]int
	tally := func(r *engine.BacktestResult, key func(*engine.Violation) string) counts {
		c := counts{}
		if r == nil {
			return c
		}
		for _, v := range r.Violations {
			c[key(v)]++
		}
		return c
	}
	sections := []struct {
		title string
		key   func(*engine.Violation) string
	}{
		{"по правилам / by rule", func(v *engine.Violation) string { return v.Rule + " (" + string(v.Severity) + ")" }},
		{"по этапам / by stage", func(v *engine.Violation) string { return v.Pipeline + "/" + v.Stage }},
		{"по менеджерам / by manager", func(v *engine.Violation) string { return v.User }},
	}
	open := 0
	for _, v := range res.Violations {
		if v.ResolvedAt == nil {
			open++
		}
	}
	fmt.Fprintf(w, "%s: %d findings (%d still open at %s), %d actions\n", path, len(res.Violations), open, res.Until.Format(time.RFC3339), len(res.Actions))
	if old != nil {
		fmt.Fprintf(w, "%s: %d findings, %d actions\n", oldPath, len(old.Violations), len(old.Actions))
	}
	for _, s := range sections {
		now, before := tally(res, s.key), tally(old, s.key)
		keys := make([]string, 0, len(now)+len(before))
		for k := range now {
			keys = append(keys, k)
		}
		for k := range before {
			if _, ok := now[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Slice(keys, func(i, j int) bool {
			if now[keys[i]] != now[keys[j]] {
				return now[keys[i]] > now[keys[j]]
			}
			return keys[i] < keys[j]
		})
		fmt.Fprintf(w, "\n%s\n", s.title)
		for _, k := range keys {
			if old != nil {
				fmt.Fprintf(w, "  %-40s %6d   was %6d\n", k, now[k], before[k])
			} else {
				fmt.Fprintf(w, "  %-40s %6d\n", k, now[k])
			}
		}
	}
}
