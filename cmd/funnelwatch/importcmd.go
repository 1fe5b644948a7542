package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/dealcsv"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

const importBatch = 5000

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("import events|deals …")
	}
	switch args[0] {
	case "events":
		return importEvents(ctx, args[1:], stdout, stderr)
	case "deals":
		return importDeals(ctx, args[1:], stdout, stderr)
	}
	return usageErr("import: unknown kind %q (events or deals)", args[0])
}

// importTarget holds the flags both imports share.
type importTarget struct {
	regsPath, db *string
}

func targetFlags(fs interface {
	String(name, value, usage string) *string
}) importTarget {
	return importTarget{
		regsPath: fs.String("regulations", env("REGULATIONS", ""), "regulations file (YAML)"),
		db:       fs.String("db", env("DB", ""), "store: sqlite:PATH or postgres://… (default: sqlite in the data directory)"),
	}
}

func (t importTarget) open(ctx context.Context) (*app, error) {
	if *t.regsPath == "" {
		return nil, usageErr("--regulations FILE is required")
	}
	regs, err := regulations.ParseFile(*t.regsPath)
	if err != nil {
		return nil, fmt.Errorf("regulations %s: %w", *t.regsPath, err)
	}
	return openApp(ctx, storeURL(*t.db), regs, nil, logger(io.Discard), false)
}

// tally sums up an import and prints the first rejections.
type tally struct {
	accepted, duplicates, rejected int
	shown                          int
	out                            io.Writer
}

func (t *tally) reject(where, id, reason string) {
	t.rejected++
	if t.shown < 20 {
		fmt.Fprintf(t.out, "rejected %s %s: %s\n", where, id, reason)
		t.shown++
	}
}

func (t *tally) print(w io.Writer, what string, took time.Duration) {
	fmt.Fprintf(w, "%s: %d accepted, %d duplicates, %d rejected in %s\n", what, t.accepted, t.duplicates, t.rejected, took.Round(time.Millisecond))
}

func importEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import events", stderr)
	target := targetFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("want one FILE.ndjson")
	}
	a, err := target.open(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	t := &tally{out: stdout}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	var raws []json.RawMessage
	var lines []int
	line := 0
	flush := func() error {
		if len(raws) == 0 {
			return nil
		}
		resp, err := api.Ingest(ctx, a.ingestor, raws)
		if err != nil {
			return err
		}
		t.accepted += resp.Accepted
		t.duplicates += resp.Duplicates
		for _, r := range resp.Errors {
			t.reject(fmt.Sprintf("line %d", lines[r.Index]), r.ID, r.Reason)
		}
		raws, lines = raws[:0], lines[:0]
		return nil
	}
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		raws = append(raws, bytes.Clone(b))
		lines = append(lines, line)
		if len(raws) == importBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s line %d: %w", fs.Arg(0), line+1, err)
	}
	if err := flush(); err != nil {
		return err
	}
	if err := a.ingestor.Sync(ctx); err != nil {
		return err
	}
	if err := markHistory(ctx, a); err != nil {
		return err
	}
	t.print(stdout, fs.Arg(0), time.Since(start))
	return nil
}

// markHistory records that what was imported is a recorded history: the
// CRM's own robots acted in it, so the engine observes the automations
// up to its latest event instead of acting again (DESIGN §4.3, observe).
func markHistory(ctx context.Context, a *app) error {
	return recordHistory(ctx, a, a.ingestor.Latest())
}

// recordHistory stores until as the end of the recorded history (it only
// moves forward), in the engine's checkpoint, so a restarted engine
// observes the same history.
func recordHistory(ctx context.Context, a *app, until time.Time) error {
	if until.IsZero() {
		return nil
	}
	return a.store.Update(ctx, workspaceID, func(tx funnelwatch.Tx) error {
		st, err := tx.EngineState(ctx)
		if err != nil || !until.After(st.ObserveUntil) {
			return err
		}
		st.ObserveUntil = until
		return tx.SetEngineState(ctx, st)
	})
}

// kvFlag parses "a=b,c=d" lists.
func kvFlag(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, usageErr("%q is not KEY=VALUE", part)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func importDeals(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import deals", stderr)
	target := targetFlags(fs)
	pipeline := fs.String("pipeline", "", "pipeline id the deals go to (required)")
	mapping := fs.String("map", "", "columns: id=COL,stage=COL[,responsible=COL,amount=COL,name=COL,created=COL,closed=COL,loss_reason=COL,source=COL,phone=COL,email=COL]")
	stages := fs.String("stages", "", "stage values: CSV_VALUE=stage_id,…")
	users := fs.String("users", "", "responsible values: CSV_VALUE=user_id,… (others are slugged: \"Moses Frase\" → moses_frase)")
	fields := fs.String("fields", "", "columns copied as custom fields: COL,COL")
	layout := fs.String("date-layout", "", "Go time layout of the dates (e.g. 02-01-06 for dd-mm-yy); default tries ISO and dd.mm.yyyy")
	tz := fs.String("timezone", "", "time zone of dates without one (default: the regulations' timezone)")
	missing := fs.String("missing-created", "", "creation time (RFC 3339) for rows without one; default: such rows are reported and skipped")
	out := fs.String("out", "", "write the events as NDJSON to this file instead of importing them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErr("want one FILE.csv")
	}
	cols, err := kvFlag(*mapping)
	if err != nil {
		return err
	}
	m := dealcsv.Mapping{Pipeline: *pipeline, EventPrefix: "csv:" + filepath.Base(fs.Arg(0)) + ":"}
	columns := map[string]*string{"id": &m.ID, "stage": &m.Stage, "responsible": &m.Responsible, "amount": &m.Amount,
		"name": &m.Name, "created": &m.Created, "closed": &m.Closed, "loss_reason": &m.LossReason,
		"source": &m.Source, "phone": &m.Phone, "email": &m.Email}
	for k, v := range cols {
		field, ok := columns[k]
		if !ok {
			return usageErr("--map: unknown attribute %q", k)
		}
		*field = v
	}
	if m.Stages, err = kvFlag(*stages); err != nil {
		return err
	}
	if m.Users, err = kvFlag(*users); err != nil {
		return err
	}
	if *fields != "" {
		m.Fields = strings.Split(*fields, ",")
	}
	if *layout != "" {
		m.DateLayouts = []string{*layout}
	}
	if *missing != "" {
		if m.MissingCreated, err = time.Parse(time.RFC3339, *missing); err != nil {
			return usageErr("--missing-created: %v", err)
		}
	}
	if *target.regsPath == "" {
		return usageErr("--regulations FILE is required")
	}
	regs, err := regulations.ParseFile(*target.regsPath)
	if err != nil {
		return fmt.Errorf("regulations %s: %w", *target.regsPath, err)
	}
	m.Location = regs.Location
	if *tz != "" {
		if m.Location, err = time.LoadLocation(*tz); err != nil {
			return usageErr("--timezone: %v", err)
		}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	start := time.Now()
	res, err := dealcsv.Convert(f, m, &regs.Funnel)
	if err != nil {
		return err
	}
	t := &tally{out: stdout}
	for _, e := range res.Errors {
		t.reject(fmt.Sprintf("line %d", e.Line), "", e.Reason)
	}
	if *out != "" {
		if err := writeEvents(*out, res.Events); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d rows → %d events written to %s, %d rows skipped\n", fs.Arg(0), res.Rows, len(res.Events), *out, len(res.Errors))
		return nil
	}
	a, err := target.open(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	if err := ingestAll(ctx, a.ingestor, res.Events, t); err != nil {
		return err
	}
	if err := a.ingestor.Sync(ctx); err != nil {
		return err
	}
	if err := markHistory(ctx, a); err != nil {
		return err
	}
	t.print(stdout, fmt.Sprintf("%s (%d rows)", fs.Arg(0), res.Rows), time.Since(start))
	return nil
}

// ingestAll ingests typed events in batches and tallies the outcome.
func ingestAll(ctx context.Context, in *engine.Ingestor, events []funnelwatch.Event, t *tally) error {
	for i := 0; i < len(events); i += importBatch {
		part := events[i:min(i+importBatch, len(events))]
		res, err := in.Ingest(ctx, part)
		if err != nil {
			return err
		}
		for j, o := range res.Outcomes {
			switch o {
			case engine.Accepted:
				t.accepted++
			case engine.Duplicate:
				t.duplicates++
			case engine.Rejected:
				t.reject("event", part[j].ID, res.Reasons[j])
			}
		}
	}
	return nil
}

func writeEvents(path string, events []funnelwatch.Event) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
