package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
)

// MemSample is the process's memory at one moment, after a garbage
// collection that returned what it could to the OS.
type MemSample struct {
	// RSS is the resident set (VmRSS of /proc/self/status; 0 where there
	// is none): RSSAnon, the process's own memory (the Go heap, SQLite's
	// page cache), plus RSSFile, pages of files mapped in (the binary,
	// and the database, which SQLite reads through a memory map) that
	// the kernel can drop and read again.
	RSS, RSSAnon, RSSFile uint64
	HeapInUse             uint64 // Go heap spans in use
	HeapAlloc             uint64 // Go heap objects alive
	// GoRuntime is what the Go runtime holds from the OS (heap, stacks,
	// its own metadata; Sys less what it released): RSSAnon less it is
	// mostly SQLite's (its page caches and allocations, outside the Go
	// heap).
	GoRuntime uint64
	// Peak is the highest RSS so far (VmHWM): with the garbage the
	// collector lets grow between cycles (GOGC, GOMEMLIMIT), which the
	// other figures, taken after a collection, leave out.
	Peak uint64
}

// SampleMemory collects garbage, returns freed memory to the OS and reads
// the process's memory.
func SampleMemory() MemSample {
	runtime.GC()
	debug.FreeOSMemory()
	return readMemory()
}

// readMemory reads the process's memory as it is, without collecting.
func readMemory() MemSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := MemSample{HeapInUse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, GoRuntime: ms.Sys - ms.HeapReleased}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s
	}
	s.RSS, s.RSSAnon, s.RSSFile = statusBytes(status, "VmRSS:"), statusBytes(status, "RssAnon:"), statusBytes(status, "RssFile:")
	s.Peak = statusBytes(status, "VmHWM:")
	return s
}

// statusBytes reads a "Key:   123456 kB" line of /proc/self/status.
func statusBytes(status []byte, key string) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(key))
		if !ok {
			continue
		}
		if f := bytes.Fields(rest); len(f) > 0 {
			kb, _ := strconv.ParseUint(string(f[0]), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// MemoryReport holds the figures of one memory run (DESIGN §9: 1,000,000
// open deals and 1,000,000 pending deadlines in < 1 GiB RSS).
type MemoryReport struct {
	Deals  int
	Events int
	// Start is the process before the store was filled; Cache after the
	// events were ingested, with the Ingestor's cache of the deals and no
	// engine (the baseline); Engine after the engine has read the whole
	// log and holds the deals, their open findings and deadlines. Read
	// is the process as the engine's read left it, before the collection
	// Engine's figures follow (its heap in use holds garbage too).
	Start, Cache, Engine, Read MemSample
	Ingest, Evaluate           time.Duration
	Stats                      engine.LiveStats
}

// String prints the samples side by side with the target.
func (r MemoryReport) String() string {
	mib := func(b uint64) string { return fmt.Sprintf("%7.0f MiB", float64(b)/(1<<20)) }
	line := func(what string, s MemSample) string {
		return fmt.Sprintf("%-64s RSS %s (anon %s, file %s)   Go heap in use %s (live %s), Go runtime %s, anon outside it %s\n",
			what, mib(s.RSS), mib(s.RSSAnon), mib(s.RSSFile), mib(s.HeapInUse), mib(s.HeapAlloc), mib(s.GoRuntime), mib(s.RSSAnon-min(s.RSSAnon, s.GoRuntime)))
	}
	return fmt.Sprintf("%d open deals, %d events: ingested in %.1fs (%.0f events/s, no HTTP), evaluated by the engine in %.1fs (%.0f events/s)\n",
		r.Deals, r.Events, r.Ingest.Seconds(), float64(r.Events)/r.Ingest.Seconds(), r.Evaluate.Seconds(), float64(r.Events)/r.Evaluate.Seconds()) +
		line("process, store open, nothing loaded", r.Start) +
		line("baseline: the deals in the Ingestor's cache, engine not started", r.Cache) +
		line("with the engine holding them", r.Engine) +
		line("the same before a collection (as the engine's read left it)", r.Read) +
		fmt.Sprintf("peak RSS (VmHWM) over the run %s; the Go runtime's soft memory limit %s\n", mib(r.Engine.Peak), memLimit()) +
		fmt.Sprintf("engine: %d open findings, %d pending timers (deadlines); RSS %s (target < 1024 MiB with 1,000,000 deals and deadlines), engine's share %s\n",
			r.Stats.OpenFindings, r.Stats.PendingTimers, mib(r.Engine.RSS), mib(r.Engine.RSS-min(r.Engine.RSS, r.Cache.RSS))) +
		fmt.Sprintf("per open deal: RSS %.0f bytes (anon %.0f, file %.0f); Go heap live %.0f bytes (the Ingestor's cache %.0f, the engine %.0f)\n",
			r.perDeal(r.Engine.RSS, r.Start.RSS), r.perDeal(r.Engine.RSSAnon, r.Start.RSSAnon), r.perDeal(r.Engine.RSSFile, r.Start.RSSFile),
			r.perDeal(r.Engine.HeapAlloc, r.Start.HeapAlloc), r.perDeal(r.Cache.HeapAlloc, r.Start.HeapAlloc), r.perDeal(r.Engine.HeapAlloc, r.Cache.HeapAlloc))
}

// memLimit prints the runtime's soft memory limit (GOMEMLIMIT).
func memLimit() string {
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 {
		return fmt.Sprintf("%.0f MiB", float64(l)/(1<<20))
	}
	return "none (GOMEMLIMIT unset)"
}

// perDeal is what the process gained from one sample to another, per
// open deal.
func (r MemoryReport) perDeal(to, from uint64) float64 {
	if r.Deals == 0 || to < from {
		return 0
	}
	return float64(to-from) / float64(r.Deals)
}

// MemoryOptions size a memory run.
type MemoryOptions struct {
	Deals int // open deals to hold
	// HeapProfile, when set, receives a heap profile taken with the
	// engine holding the deals.
	HeapProfile io.Writer
	// Mapped makes the engine read the log through the store's readers,
	// which map the database into memory, rather than through
	// sqlite.OpenLogReader (the way before it, to compare).
	Mapped bool
}

// memoryBatch is how many deals go into one ingest transaction.
const memoryBatch = 5000

// Memory fills a fresh SQLite store in dir with n open deals, each with
// a contact, a first note by its manager and an open task due in two days
// (so each has deadlines pending: the task's due time, the stage's SLA,
// the pipeline's lifetime), ingested through the Ingestor in big batches;
// then the engine reads the whole log. The process's memory is sampled
// before, after ingest (the Ingestor's cache alone) and with the engine.
// The deals are created 50 ms apart, so at the engine's clock (the last
// event) no deadline has passed yet for any of them up to 1.7 million.
func Memory(ctx context.Context, dir string, regs *regulations.Regulations, o MemoryOptions) (MemoryReport, error) {
	n := o.Deals
	rep := MemoryReport{Deals: n}
	store, err := openWorkspace(ctx, filepath.Join(dir, "memory.db"))
	if err != nil {
		return rep, err
	}
	defer store.Close()
	in := &engine.Ingestor{Store: store, Workspace: workspace, Funnel: &regs.Funnel}
	flushCtx, stopFlush := context.WithCancel(ctx)
	defer stopFlush()
	flushed := make(chan error, 1)
	go func() { flushed <- in.Run(flushCtx, engine.DefaultFlushInterval, nil) }()
	rep.Start = SampleMemory()

	start := time.Now()
	last, events, err := loadOpenDeals(ctx, in, n)
	rep.Events = events
	if err != nil {
		return rep, err
	}
	stopFlush()
	if err := <-flushed; err != nil {
		return rep, err
	}
	rep.Ingest = time.Since(start)
	rep.Cache = SampleMemory()

	logStore, err := sqlite.OpenLogReader(ctx, filepath.Join(dir, "memory.db"))
	if err != nil {
		return rep, err
	}
	defer logStore.Close()
	live := &engine.Live{Store: store, Log: logStore, Workspace: workspace, Regs: regs, Ingestor: in, Now: func() time.Time { return last }}
	if o.Mapped {
		live.Log = nil
	}
	start = time.Now()
	if err := live.Step(ctx); err != nil {
		return rep, err
	}
	rep.Evaluate = time.Since(start)
	rep.Stats = live.Stats()
	rep.Read = readMemory()
	rep.Engine = SampleMemory()
	if o.HeapProfile != nil {
		if err := pprof.Lookup("heap").WriteTo(o.HeapProfile, 0); err != nil {
			return rep, err
		}
	}
	runtime.KeepAlive(live)
	runtime.KeepAlive(in)
	return rep, nil
}

// loadOpenDeals ingests n open deals (openDeal) in batches, and returns
// the time of the last event and how many there were.
func loadOpenDeals(ctx context.Context, in *engine.Ingestor, n int) (last time.Time, events int, err error) {
	for from := 0; from < n; from += memoryBatch {
		batch := make([]funnelwatch.Event, 0, 3*memoryBatch)
		for i := from; i < min(from+memoryBatch, n); i++ {
			batch = append(batch, openDeal(i)...)
		}
		last = batch[len(batch)-1].At
		res, err := in.Ingest(ctx, batch)
		if err != nil {
			return last, events, err
		}
		for i, r := range res.Reasons {
			if r != "" {
				return last, events, fmt.Errorf("bench event %s rejected: %s", batch[i].ID, r)
			}
		}
		events += len(batch)
	}
	return last, events, nil
}

// openDeal returns the events of the i-th open deal of the memory
// benchmark: created on the contact stage, answered with a note by its
// manager, and given a task due in two days.
func openDeal(i int) []funnelwatch.Event {
	at := syntheticStart.Add(time.Duration(i) * 50 * time.Millisecond)
	due := at.Add(48 * time.Hour)
	id := "D" + strconv.Itoa(i)
	users := [...]string{"roman", "olga"}
	user := users[i%2]
	return []funnelwatch.Event{
		{ID: "c" + id, Type: funnelwatch.EventDealCreated, At: at, Deal: &funnelwatch.DealPayload{ID: id, Pipeline: "sales", Stage: "contact",
			Responsible: user, Amount: float64(1000 * (3 + i%150)), Source: "avito",
			Contact: &funnelwatch.ContactInfo{Name: "Клиент", Phone: fmt.Sprintf("+7912%07d", i%10_000_000)}}},
		{ID: "n" + id, Type: funnelwatch.EventNoteAdded, At: at, Actor: user,
			Note: &funnelwatch.NotePayload{ID: "N" + id, DealID: id, Author: user, Text: "Клиент просит КП, отправлю завтра утром"}},
		{ID: "t" + id, Type: funnelwatch.EventTaskCreated, At: at,
			Task: &funnelwatch.TaskPayload{ID: "T" + id, DealID: id, Due: &due, Text: "Отправить КП и перезвонить", Kind: "call"}},
	}
}
