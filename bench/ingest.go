// Package bench measures funnelwatch against baselines taken in the same
// run, as DESIGN §9 asks: numbers beside a baseline, never a timed test.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// IngestReport holds the figures of one ingest benchmark run.
type IngestReport struct {
	Events  int
	Batch   int
	Clients int // concurrent HTTP clients, each with its own deals

	API          time.Duration // POST /api/v1/events over loopback HTTP into SQLite
	Raw          time.Duration // the same rows inserted straight into SQLite
	HeapInUseMiB uint64
}

// APIRate and RawRate are events per second.
func (r IngestReport) APIRate() float64 { return float64(r.Events) / r.API.Seconds() }
func (r IngestReport) RawRate() float64 { return float64(r.Events) / r.Raw.Seconds() }

// String prints the figures side by side.
func (r IngestReport) String() string {
	return fmt.Sprintf("%-46s %9d events %8.2fs %10.0f events/s\n", "API path (HTTP+JSON+checks+fold, SQLite)", r.Events, r.API.Seconds(), r.APIRate()) +
		fmt.Sprintf("%-46s %9d events %8.2fs %10.0f events/s\n", "baseline: raw SQLite insert of the same rows", r.Events, r.Raw.Seconds(), r.RawRate()) +
		fmt.Sprintf("ratio: %.0f%% of raw (target ≥ 50%%); batch %d; %d client(s); Go heap in use %d MiB; GOMAXPROCS %d\n",
			100*r.APIRate()/r.RawRate(), r.Batch, r.Clients, r.HeapInUseMiB, runtime.GOMAXPROCS(0))
}

// Ingest posts n synthetic events for the funnel to the ingest API on a
// fresh SQLite store in dir, in batches, from clients concurrent clients
// (each sends the events of its own deals, in order, as a CRM connector
// would), and waits until the state tables have caught up. Then it inserts
// the same event rows into a second fresh SQLite database with one
// prepared statement in transactions of the same size.
func Ingest(ctx context.Context, dir string, f *funnelwatch.Funnel, n, batch, clients int) (IngestReport, error) {
	rep := IngestReport{Events: n, Batch: batch, Clients: max(1, clients)}
	events := SyntheticEvents(n, 1, time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC))
	bodies := make([][][]byte, rep.Clients)
	for c, stream := range Partition(events, rep.Clients) {
		for i := 0; i < len(stream); i += batch {
			b, err := json.Marshal(stream[i:min(i+batch, len(stream))])
			if err != nil {
				return rep, err
			}
			bodies[c] = append(bodies[c], b)
		}
	}

	store, err := sqlite.Open(ctx, filepath.Join(dir, "api.db"))
	if err != nil {
		return rep, err
	}
	defer store.Close()
	if err := store.EnsureWorkspace(ctx, "bench", "Bench"); err != nil {
		return rep, err
	}
	const token = "bench-token"
	mux := http.NewServeMux()
	in := &engine.Ingestor{Store: store, Workspace: "bench", Funnel: f}
	(&api.Server{Store: store, Workspace: "bench", Tokens: []string{token}, Ingestor: in}).Routes(mux)
	flushCtx, stopFlush := context.WithCancel(ctx)
	defer stopFlush()
	flushed := make(chan error, 1)
	go func() { flushed <- in.Run(flushCtx, engine.DefaultFlushInterval, nil) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return rep, err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/api/v1/events"
	client := &http.Client{Timeout: 5 * time.Minute}
	start := time.Now()
	errs := make(chan error, rep.Clients)
	for _, stream := range bodies {
		go func() { errs <- post(ctx, client, url, token, stream) }()
	}
	for range bodies {
		if err := <-errs; err != nil {
			return rep, err
		}
	}
	// Sustained means the state tables have caught up too.
	stopFlush()
	if err := <-flushed; err != nil {
		return rep, err
	}
	rep.API = time.Since(start)

	raw, err := sqlite.Open(ctx, filepath.Join(dir, "raw.db"))
	if err != nil {
		return rep, err
	}
	defer raw.Close()
	rows := make([][]any, len(events))
	now := time.Now().UnixMicro()
	for i := range events {
		e := &events[i]
		p, _ := json.Marshal(e)
		rows[i] = []any{"bench", e.ID, string(e.Type), e.At.UnixMicro(), now, e.DealRef(), e.TaskID, e.Actor, string(p)}
	}
	db := raw.DB()
	start = time.Now()
	for i := 0; i < len(rows); i += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return rep, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (workspace_id, id, type, at, received_at, deal_id, task_id, actor, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return rep, err
		}
		for _, r := range rows[i:min(i+batch, len(rows))] {
			if _, err := st.ExecContext(ctx, r...); err != nil {
				return rep, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return rep, err
		}
	}
	rep.Raw = time.Since(start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInUseMiB = ms.HeapInuse >> 20
	return rep, nil
}

// post sends the batches in order.
func post(ctx context.Context, client *http.Client, url, token string, bodies [][]byte) error {
	for _, body := range bodies {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		var r api.IngestResponse
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ingest: status %d: %v", resp.StatusCode, err)
		}
		if r.Rejected > 0 {
			return fmt.Errorf("bench event %s rejected: %s", r.Errors[0].ID, r.Errors[0].Reason)
		}
	}
	return nil
}

// Partition splits the log into k streams by deal, keeping each deal's
// events in order.
func Partition(events []funnelwatch.Event, k int) [][]funnelwatch.Event {
	out := make([][]funnelwatch.Event, k)
	taskDeal := map[string]string{}
	for _, e := range events {
		deal := e.DealRef()
		if e.Task != nil {
			taskDeal[e.Task.ID] = deal
		}
		if deal == "" {
			deal = taskDeal[e.TaskID]
		}
		h := 0
		for _, c := range deal {
			h = h*31 + int(c)
		}
		i := (h%k + k) % k
		out[i] = append(out[i], e)
	}
	return out
}
