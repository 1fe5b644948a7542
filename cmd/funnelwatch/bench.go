package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
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
	dir := fs.String("dir", "", "directory for the databases (default: a temporary one, removed after)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
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
	fmt.Fprintf(stdout, "generating %d events (batches of %d)…\n", *n, *batch)
	events := SyntheticEvents(*n, 1, time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC))
	bodies := make([][]byte, 0, *n / *batch + 1)
	for i := 0; i < len(events); i += *batch {
		b, err := json.Marshal(events[i:min(i+*batch, len(events))])
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
	}

	// The API path: HTTP on loopback, JSON decoding, checks, fold, SQLite.
	token := randomToken()
	a, err := openApp(ctx, "sqlite:"+filepath.Join(*dir, "api.db"), regs, []string{token}, logger(io.Discard))
	if err != nil {
		return err
	}
	defer a.store.Close()
	url := make(chan string, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = a.serve(sctx, "127.0.0.1:0", func(u string) { url <- u }) }()
	base := <-url
	client := &http.Client{Timeout: 5 * time.Minute}
	start := time.Now()
	accepted := 0
	for _, body := range bodies {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		var r struct {
			Accepted int `json:"accepted"`
			Rejected int `json:"rejected"`
			Errors   []struct {
				ID, Reason string
			} `json:"errors"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ingest: status %d: %v", resp.StatusCode, err)
		}
		if r.Rejected > 0 {
			return fmt.Errorf("bench events rejected: %+v", r.Errors[0])
		}
		accepted += r.Accepted
	}
	apiTook := time.Since(start)
	stop()

	// The baseline: the same event rows inserted straight into SQLite with
	// one prepared statement, in transactions of the same size.
	raw, err := sqlite.Open(ctx, filepath.Join(*dir, "raw.db"))
	if err != nil {
		return err
	}
	defer raw.Close()
	rows := make([][]any, len(events))
	for i := range events {
		p, _ := json.Marshal(&events[i])
		rows[i] = []any{"default", events[i].ID, string(events[i].Type), events[i].At.UnixMicro(), time.Now().UnixMicro(),
			events[i].DealRef(), events[i].TaskID, events[i].Actor, string(p)}
	}
	start = time.Now()
	db := raw.DB()
	for i := 0; i < len(rows); i += *batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (workspace_id, id, type, at, received_at, deal_id, task_id, actor, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		for _, r := range rows[i:min(i+*batch, len(rows))] {
			if _, err := st.ExecContext(ctx, r...); err != nil {
				return err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	rawTook := time.Since(start)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	apiRate := float64(accepted) / apiTook.Seconds()
	rawRate := float64(len(rows)) / rawTook.Seconds()
	fmt.Fprintf(stdout, "%-44s %10d events %8.2fs %10.0f events/s\n", "API path (HTTP+JSON+checks+fold, SQLite)", accepted, apiTook.Seconds(), apiRate)
	fmt.Fprintf(stdout, "%-44s %10d events %8.2fs %10.0f events/s\n", "baseline: raw SQLite insert of the same rows", len(rows), rawTook.Seconds(), rawRate)
	fmt.Fprintf(stdout, "ratio: %.0f%% of raw (target ≥ 50%%); Go heap in use %d MiB; GOMAXPROCS %d\n",
		100*apiRate/rawRate, ms.HeapInuse>>20, runtime.GOMAXPROCS(0))
	return nil
}

// SyntheticEvents returns n valid events for the bench regulations: deals
// created, worked with tasks, calls and notes, moved and closed — the mix
// a sales team produces.
func SyntheticEvents(n int, seed uint64, start time.Time) []funnelwatch.Event {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	users := []string{"roman", "olga", "anna", "ivan"}
	stages := []string{"target", "contact", "ready"}
	type deal struct {
		id    string
		stage int
		tasks []string
	}
	var open []*deal
	events := make([]funnelwatch.Event, 0, n)
	at := start
	nextDeal, nextTask, nextOther := 0, 0, 0
	for len(events) < n {
		at = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		id := fmt.Sprintf("b%d", len(events))
		r := rng.IntN(100)
		if len(open) < 50 || r < 15 {
			nextDeal++
			d := &deal{id: fmt.Sprintf("D%d", nextDeal)}
			open = append(open, d)
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealCreated, At: at,
				Deal: &funnelwatch.DealPayload{ID: d.id, Pipeline: "sales", Stage: "target", Responsible: users[rng.IntN(len(users))],
					Amount: float64(1000 * (3 + rng.IntN(150))), Source: "avito",
					Contact: &funnelwatch.ContactInfo{Name: "Клиент", Phone: fmt.Sprintf("+7912%07d", nextDeal%10_000_000)}}})
			continue
		}
		i := rng.IntN(len(open))
		d := open[i]
		switch {
		case r < 40:
			nextTask++
			tid := fmt.Sprintf("T%d", nextTask)
			d.tasks = append(d.tasks, tid)
			due := at.Add(time.Duration(15+rng.IntN(600)) * time.Minute)
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventTaskCreated, At: at,
				Task: &funnelwatch.TaskPayload{ID: tid, DealID: d.id, Due: &due, Text: "Перезвонить клиенту", Kind: "call"}})
		case r < 60 && len(d.tasks) > 0:
			tid := d.tasks[0]
			d.tasks = d.tasks[1:]
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventTaskCompleted, At: at, TaskID: tid, Result: "Дозвонились, договорились о встрече"})
		case r < 72:
			nextOther++
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventCall, At: at,
				Call: &funnelwatch.CallPayload{ID: fmt.Sprintf("C%d", nextOther), User: users[rng.IntN(len(users))], Direction: "out",
					Phone: "+79120000000", StartedAt: at, DurationS: rng.IntN(300), Answered: true, DealID: d.id}})
		case r < 84:
			nextOther++
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventNoteAdded, At: at,
				Note: &funnelwatch.NotePayload{ID: fmt.Sprintf("N%d", nextOther), DealID: d.id, Text: "Клиент ждёт счёт, перезвонить завтра"}})
		case d.stage < len(stages)-1:
			d.stage++
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealStageChanged, At: at, DealID: d.id, ToStage: stages[d.stage]})
		default:
			to := "won"
			if rng.IntN(3) == 0 {
				to = "lost"
			}
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealStageChanged, At: at, DealID: d.id, ToStage: to, LossReason: "цена"})
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	return events
}
