// Package metrics exposes the server's figures to Prometheus on /metrics
// (DESIGN §11): events ingested and rejected, the rules engine's lag,
// pending timers and open findings, the outbox's depth and delivery
// failures, and HTTP latency.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are what the figures are read from; nil ones are left out.
type Sources struct {
	Store      funnelwatch.Store
	Workspace  string
	Ingestor   *engine.Ingestor
	Engine     *engine.Live
	Dispatcher *engine.Dispatcher
	Now        func() time.Time
	Logger     *slog.Logger
}

// Metrics is a registry of the server's figures.
type Metrics struct {
	reg     *prometheus.Registry
	latency *prometheus.HistogramVec
}

// New registers the figures of the sources.
func New(src Sources) *Metrics {
	now := src.Now
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "funnelwatch_http_request_duration_seconds",
		Help:    "HTTP request latency by route and status code.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .15, .25, .5, 1, 2.5, 5},
	}, []string{"route", "code"})
	m.reg.MustRegister(m.latency)
	if in := src.Ingestor; in != nil {
		for _, o := range []struct {
			outcome string
			get     func(engine.IngestCounts) int64
		}{
			{"accepted", func(c engine.IngestCounts) int64 { return c.Accepted }},
			{"duplicate", func(c engine.IngestCounts) int64 { return c.Duplicates }},
			{"rejected", func(c engine.IngestCounts) int64 { return c.Rejected }},
		} {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "funnelwatch_events_ingested_total", Help: "Events offered to the log (the API, imports and the robots' own events), by outcome.",
				ConstLabels: prometheus.Labels{"outcome": o.outcome},
			}, func() float64 { return float64(o.get(in.Counts())) }))
		}
	}
	if l := src.Engine; l != nil {
		gauge := func(name, help string, f func(engine.LiveStats) float64) {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return f(l.Stats()) }))
		}
		gauge("funnelwatch_engine_clock_lag_seconds", "How far the rules engine's clock is behind the wall clock.",
			func(s engine.LiveStats) float64 {
				if s.Clock.IsZero() {
					return 0
				}
				return now().Sub(s.Clock).Seconds()
			})
		if in := src.Ingestor; in != nil {
			gauge("funnelwatch_engine_lag_events", "Events in the log the rules engine has not evaluated yet.",
				func(s engine.LiveStats) float64 { return float64(max(0, in.Counts().LastSeq-s.Seq)) })
		}
		gauge("funnelwatch_timers_pending", "Deadlines the rules engine waits for (checks and delayed automations).",
			func(s engine.LiveStats) float64 { return float64(s.PendingTimers) })
		gauge("funnelwatch_violations_open", "Findings of the quality rules open now.",
			func(s engine.LiveStats) float64 { return float64(s.OpenFindings) })
		gauge("funnelwatch_engine_late_events_total", "Events that arrived after the engine's clock had passed their time.",
			func(s engine.LiveStats) float64 { return float64(s.Late) })
		gauge("funnelwatch_engine_deals", "Deals the rules engine holds, open and closed.",
			func(s engine.LiveStats) float64 { return float64(s.Deals) })
		gauge("funnelwatch_engine_frozen_deals", "Deals the rules engine holds as compact records until an event or a deadline asks for them.",
			func(s engine.LiveStats) float64 { return float64(s.Frozen) })
		gauge("funnelwatch_engine_resumed_seq", "The log's seq of the snapshot the rules engine started from (0: it read the whole log).",
			func(s engine.LiveStats) float64 { return float64(s.Restored) })
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "funnelwatch_engine_snapshots_total", Help: "Snapshots of the rules engine's state stored since start.",
		}, func() float64 { return float64(l.Stats().Snapshots) }))
	}
	if d := src.Dispatcher; d != nil {
		for _, o := range []struct {
			result string
			get    func(engine.DispatchStats) int64
		}{
			{"delivered", func(s engine.DispatchStats) int64 { return s.Delivered }},
			{"retry", func(s engine.DispatchStats) int64 { return s.Retried }},
			{"failed", func(s engine.DispatchStats) int64 { return s.Failed }},
		} {
			m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "funnelwatch_outbox_deliveries_total", Help: "Delivery attempts of outbox actions, by result.",
				ConstLabels: prometheus.Labels{"result": o.result},
			}, func() float64 { return float64(o.get(d.Stats())) }))
		}
	}
	if src.Store != nil {
		m.reg.MustRegister(&outboxDepth{src: src})
	}
	return m
}

// outboxDepth counts the outbox by status at each scrape.
type outboxDepth struct{ src Sources }

var outboxDesc = prometheus.NewDesc("funnelwatch_outbox_actions", "Actions in the outbox, by status.", []string{"status"}, nil)

func (o *outboxDepth) Describe(ch chan<- *prometheus.Desc) { ch <- outboxDesc }

func (o *outboxDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var counts map[funnelwatch.ActionStatus]int
	err := o.src.Store.View(ctx, o.src.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		counts, err = tx.ActionCounts(ctx)
		return err
	})
	if err != nil {
		if o.src.Logger != nil {
			o.src.Logger.Warn("metrics: outbox counts", "err", err)
		}
		return
	}
	for _, s := range []funnelwatch.ActionStatus{funnelwatch.ActionPending, funnelwatch.ActionDone, funnelwatch.ActionFailed, funnelwatch.ActionObserved} {
		ch <- prometheus.MustNewConstMetric(outboxDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}

// Handler serves the figures in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument wraps a mux: each request's latency goes into the histogram
// under its route pattern ("GET /api/v1/deals/{id}"), never its raw path.
func (m *Metrics) Instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r)
		_, route := mux.Handler(r)
		if route == "" {
			route = "unmatched"
		}
		m.latency.WithLabelValues(route, strconv.Itoa(rec.code)).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
