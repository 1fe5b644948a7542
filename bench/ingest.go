// Package bench measures funnelwatch against baselines taken in the same
// run, as DESIGN §9 asks: numbers beside a baseline, never a timed test.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
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

// IngestOptions size an ingest run.
type IngestOptions struct {
	Events int // synthetic events to post
	// Log, when set, is posted instead of synthetic events (Events is
	// then its length): a recorded history, such as the demo company's.
	Log []funnelwatch.Event
	// ObserveUntil, with Log: the end of the recorded history, up to
	// which the robots' actions are observed, not applied (the CRM's own
	// robots are in the log), as after an import.
	ObserveUntil time.Time
	Batch        int // events per request
	Clients      int // concurrent HTTP clients, each sending its own deals' events
	// Profile, when set, receives a CPU profile of the measured API path
	// (not of the set-up nor of the baseline).
	Profile io.Writer
}

func (o IngestOptions) withDefaults() IngestOptions {
	o.Batch, o.Clients = max(1, o.Batch), max(1, o.Clients)
	return o
}

// syntheticStart is when the synthetic company's log begins.
var syntheticStart = time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)

// Ingest posts synthetic events for the funnel to the ingest API on a
// fresh SQLite store in dir, in batches, from concurrent clients (each
// sends the events of its own deals, in order, as a CRM connector would),
// and waits until the state tables have caught up. Then it inserts the
// same event rows into a second fresh SQLite database with one prepared
// statement in transactions of the same size.
func Ingest(ctx context.Context, dir string, f *funnelwatch.Funnel, o IngestOptions) (IngestReport, error) {
	o = o.withDefaults()
	rep := IngestReport{Events: o.Events, Batch: o.Batch, Clients: o.Clients}
	events := SyntheticEvents(o.Events, 1, syntheticStart)
	bodies, err := clientBodies(events, o.Batch, o.Clients)
	if err != nil {
		return rep, err
	}
	srv, err := startServer(ctx, filepath.Join(dir, "api.db"), serverConfig{funnel: f})
	if err != nil {
		return rep, err
	}
	defer srv.close()
	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return rep, err
	}
	start := time.Now()
	err = postAll(ctx, srv.url, bodies)
	if err == nil {
		// Sustained means the state tables have caught up too.
		err = srv.in.Flush(ctx)
	}
	rep.API = time.Since(start)
	stopProfile()
	if err != nil {
		return rep, err
	}
	if err := srv.close(); err != nil {
		return rep, err
	}
	if rep.Raw, err = rawInsert(ctx, filepath.Join(dir, "raw.db"), events, o.Batch); err != nil {
		return rep, err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapInUseMiB = ms.HeapInuse >> 20
	return rep, nil
}

// startProfile starts a CPU profile into w (nothing when w is nil) and
// returns what stops it.
func startProfile(w io.Writer) (func(), error) {
	if w == nil {
		return func() {}, nil
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return nil, err
	}
	return pprof.StopCPUProfile, nil
}

// clientBodies splits the log into one stream per client (by deal) and
// each stream into JSON arrays of batch events.
func clientBodies(events []funnelwatch.Event, batch, clients int) ([][][]byte, error) {
	bodies := make([][][]byte, clients)
	for c, stream := range Partition(events, clients) {
		for i := 0; i < len(stream); i += batch {
			b, err := json.Marshal(stream[i:min(i+batch, len(stream))])
			if err != nil {
				return nil, err
			}
			bodies[c] = append(bodies[c], b)
		}
	}
	return bodies, nil
}

// postAll sends each client's batches in order, the clients concurrently,
// and returns when every batch is acknowledged.
func postAll(ctx context.Context, url string, bodies [][][]byte) error {
	client := &http.Client{Timeout: 5 * time.Minute}
	errs := make(chan error, len(bodies))
	for _, stream := range bodies {
		go func() { errs <- post(ctx, client, url, token, stream) }()
	}
	var first error
	for range bodies {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rawInsert is the baseline: the same event rows (same table, indexes and
// payloads) inserted into a fresh SQLite database at path with one
// prepared single-row INSERT, in transactions of batch rows.
func rawInsert(ctx context.Context, path string, events []funnelwatch.Event, batch int) (time.Duration, error) {
	raw, err := sqlite.Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer raw.Close()
	rows := make([][]any, len(events))
	now := time.Now().UnixMicro()
	for i := range events {
		e := &events[i]
		p, _ := json.Marshal(e)
		rows[i] = []any{workspace, e.ID, string(e.Type), e.At.UnixMicro(), now, e.DealRef(), e.TaskID, e.Actor, string(p)}
	}
	db := raw.DB()
	start := time.Now()
	for i := 0; i < len(rows); i += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (workspace_id, id, type, at, received_at, deal_id, task_id, actor, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		for _, r := range rows[i:min(i+batch, len(rows))] {
			if _, err := st.ExecContext(ctx, r...); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
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
