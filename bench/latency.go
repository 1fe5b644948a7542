package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// LatencyPeriod is how often the latency benchmark's client posts a
// batch: a CRM's webhooks, a few events at a time.
const LatencyPeriod = 10 * time.Millisecond

// LatencyOptions size a latency run.
type LatencyOptions struct {
	Rate     int           // events per second to send
	Duration time.Duration // how long to send
	// History is how many events of the synthetic company are in the log
	// before the clock starts (ingested directly, ending now, evaluated
	// by the engine): the traffic then continues that company's deals
	// and the engine holds their findings and deadlines.
	History int
	// Profile, when set, receives a CPU profile of the timed part.
	Profile io.Writer
}

// LatencyReport holds the figures of one latency run (DESIGN §9: event →
// violation p99 < 50 ms at 1,000 events/s).
type LatencyReport struct {
	Rate     int           // events per second asked for
	History  int           // events in the log before the clock started
	Duration time.Duration // of the sending
	Sent     int           // events sent
	Batches  int
	Late     int // batches sent more than a period after their slot (the server held the client up)

	// Finding has, per marker event, the time from sending its request
	// to the engine having stored its finding; RoundTrip, per request,
	// the time from sending it to its 200 response. Both sorted.
	Finding   []time.Duration
	RoundTrip []time.Duration
	Markers   int // marker events sent; those missing from Finding got no finding in time

	Engine engine.LiveStats
	// SnapshotsBefore is the engine's snapshots stored before the
	// traffic began (Engine.Snapshots counts them too).
	SnapshotsBefore int64
}

// Achieved is the rate of events sent, per second.
func (r LatencyReport) Achieved() float64 { return float64(r.Sent) / r.Duration.Seconds() }

// String prints the latencies beside the round-trip baseline and the
// target.
func (r LatencyReport) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	f, rt := r.Finding, r.RoundTrip
	return fmt.Sprintf("event → finding stored: p50 %s  p95 %s  p99 %s  max %s (target p99 < 50 ms); %d of %d markers found\n",
		ms(Quantile(f, 0.50)), ms(Quantile(f, 0.95)), ms(Quantile(f, 0.99)), ms(Quantile(f, 1)), len(f), r.Markers) +
		fmt.Sprintf("baseline: ingest round trip (request → 200), same requests: p50 %s  p95 %s  p99 %s  max %s\n",
			ms(Quantile(rt, 0.50)), ms(Quantile(rt, 0.95)), ms(Quantile(rt, 0.99)), ms(Quantile(rt, 1))) +
		fmt.Sprintf("rate: asked %d events/s, achieved %.0f events/s (%d events in %d batches over %.1fs, one every %s; %d batches behind their slot); %d events in the log before\n",
			r.Rate, r.Achieved(), r.Sent, r.Batches, r.Duration.Seconds(), LatencyPeriod, r.Late, r.History) +
		fmt.Sprintf("engine: %d events evaluated (%d behind its clock), %d writes, %d open findings, %d pending timers; %d snapshots of its state stored during the traffic\n",
			r.Engine.Events, r.Engine.Late, r.Engine.Written, r.Engine.OpenFindings, r.Engine.PendingTimers,
			r.Engine.Snapshots-r.SnapshotsBefore)
}

// Quantile returns the q-quantile of sorted durations (nearest rank);
// zero for none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// markerRule is the rule a marker event trips at once.
const markerRule = regulations.RuleLostWithoutReason

// Latency serves a fresh SQLite store over loopback HTTP with the rules
// engine on the wall clock, as `funnelwatch serve` runs, and posts Rate
// events a second for the Duration, a batch every LatencyPeriod. The
// traffic is the synthetic company's, stamped with the time of sending;
// every batch also carries a marker: a deal created in the batch before
// is moved to the lost stage without a loss reason, which opens a
// lost_without_reason finding at once. The engine's OnFindings hook
// stops each marker's clock when the finding is stored. The round trip
// of the same requests is the baseline.
func Latency(ctx context.Context, dir string, regs *regulations.Regulations, o LatencyOptions) (LatencyReport, error) {
	per := max(2, int(float64(o.Rate)*LatencyPeriod.Seconds()+0.5))
	batches := max(1, int(o.Duration/LatencyPeriod))
	rep := LatencyReport{Rate: o.Rate, History: o.History, Batches: batches}
	// One company: its history first, then the traffic, which goes on
	// with the same deals.
	all := SyntheticEvents(o.History+max(1, batches*(per-2)), 2, syntheticStart)
	history, filler := all[:o.History], all[o.History:]

	var mu sync.Mutex
	sent := map[string]time.Time{} // marker deal → when its request was sent
	found := map[string]time.Duration{}
	onFindings := func(vs []*funnelwatch.Violation) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vs {
			if v.Rule != markerRule {
				continue
			}
			if at, ok := sent[v.DealID]; ok {
				if _, dup := found[v.DealID]; !dup {
					found[v.DealID] = now.Sub(at)
				}
			}
		}
	}
	// The history, moved to end now.
	if len(history) > 0 {
		d := time.Since(history[len(history)-1].At)
		for i := range history {
			history[i] = shift(history[i], d)
		}
	}
	srv, err := startServer(ctx, filepath.Join(dir, "latency.db"), serverConfig{regs: regs, onFindings: onFindings, history: history})
	if err != nil {
		return rep, err
	}
	defer srv.close()
	if err := srv.caughtUp(ctx, 10*time.Millisecond); err != nil {
		return rep, err
	}
	// The history's deals in the state tables before the clock starts:
	// a running server has written them long ago. (Left to the first
	// flushes of the traffic, they held the store's writer for seconds
	// of it.)
	if err := srv.in.Sync(ctx); err != nil {
		return rep, err
	}
	client := &http.Client{Timeout: time.Minute}
	marker := func(k int) string { return fmt.Sprintf("M%d", k) }
	created := func(k int, at time.Time) funnelwatch.Event {
		return funnelwatch.Event{ID: "mc" + marker(k), Type: funnelwatch.EventDealCreated, At: at,
			Deal: &funnelwatch.DealPayload{ID: marker(k), Pipeline: "sales", Stage: "target", Responsible: "roman", Amount: 50_000, Source: "avito"}}
	}
	// The first marker's deal exists before the clock starts.
	if _, err := postBatch(ctx, client, srv.url, []funnelwatch.Event{created(0, time.Now())}, nil); err != nil {
		return rep, err
	}
	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return rep, err
	}
	defer stopProfile()
	next := 0 // into filler
	rep.SnapshotsBefore = srv.live.Stats().Snapshots
	start := time.Now()
	for k := range batches {
		slot := start.Add(time.Duration(k) * LatencyPeriod)
		if d := time.Until(slot); d > 0 {
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(d):
			}
		} else if -d > LatencyPeriod {
			rep.Late++
		}
		now := time.Now()
		batch := make([]funnelwatch.Event, 0, per)
		for ; len(batch) < per-2 && next < len(filler); next++ {
			batch = append(batch, shift(filler[next], now.Sub(filler[next].At)))
		}
		batch = append(batch, created(k+1, now), funnelwatch.Event{ID: "ml" + marker(k), Type: funnelwatch.EventDealStageChanged,
			At: now, DealID: marker(k), ToStage: "lost"})
		rt, err := postBatch(ctx, client, srv.url, batch, func(at time.Time) {
			mu.Lock()
			sent[marker(k)] = at
			mu.Unlock()
		})
		if err != nil {
			return rep, err
		}
		rep.RoundTrip = append(rep.RoundTrip, rt)
		rep.Sent += len(batch)
	}
	rep.Duration = time.Since(start)
	rep.Markers = batches
	// The last findings: give the engine a moment.
	for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(found)
		mu.Unlock()
		if n == batches || srv.err() != nil {
			break
		}
	}
	if err := srv.err(); err != nil {
		return rep, err
	}
	rep.Engine = srv.live.Stats()
	mu.Lock()
	for _, d := range found {
		rep.Finding = append(rep.Finding, d)
	}
	mu.Unlock()
	slices.Sort(rep.Finding)
	slices.Sort(rep.RoundTrip)
	return rep, srv.close()
}

// shift moves a synthetic event by d: its time, its task's due time and
// its call's start.
func shift(e funnelwatch.Event, d time.Duration) funnelwatch.Event {
	e.At = e.At.Add(d)
	if e.Task != nil {
		t := *e.Task
		if t.Due != nil {
			due := t.Due.Add(d)
			t.Due = &due
		}
		e.Task = &t
	}
	if e.Call != nil {
		c := *e.Call
		c.StartedAt = c.StartedAt.Add(d)
		e.Call = &c
	}
	return e
}

// postBatch posts one batch and returns its round trip; sending, when
// set, is told the moment the request goes. A rejected event is an error
// (the traffic must be valid).
func postBatch(ctx context.Context, client *http.Client, url string, batch []funnelwatch.Event, sending func(time.Time)) (time.Duration, error) {
	body, err := json.Marshal(batch)
	if err != nil {
		return 0, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	if sending != nil {
		sending(start)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r api.IngestResponse
	err = json.NewDecoder(resp.Body).Decode(&r)
	rt := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("ingest: status %d: %v", resp.StatusCode, err)
	}
	if r.Rejected > 0 {
		reasons := make([]string, 0, len(r.Errors))
		for _, e := range r.Errors {
			reasons = append(reasons, e.ID+": "+e.Reason)
		}
		return 0, fmt.Errorf("bench events rejected: %s", strings.Join(reasons, "; "))
	}
	return rt, nil
}
