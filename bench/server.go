package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/sqlstore"
)

const (
	workspace = "bench"
	token     = "bench-token"
)

// server is funnelwatch's ingest path on a fresh SQLite store, served
// over loopback HTTP and wired as `funnelwatch serve` wires it: the
// Ingestor with its flush loop and, when there are regulations, the rules
// engine reading the log as batches commit.
type server struct {
	store *sqlstore.Store
	in    *engine.Ingestor
	live  *engine.Live // nil without regulations
	url   string       // of POST /api/v1/events
	probe *sql.DB      // the bench's own reader of the database file

	http     *http.Server
	stop     context.CancelFunc
	flushed  chan error
	engineOK chan struct{}

	mu     sync.Mutex
	failed error // the engine's first failed step

	closeOnce sync.Once
	closeErr  error
}

// serverConfig says what runs beside the ingest API.
type serverConfig struct {
	funnel *funnelwatch.Funnel
	regs   *regulations.Regulations // the rules engine runs when set
	// now is the engine's wall clock (time.Now when nil).
	now func() time.Time
	// onFindings is the engine's hook for the findings each write stored.
	onFindings func([]*funnelwatch.Violation)
	// observeUntil is the end of a recorded history (zero: none).
	observeUntil time.Time
	// history is put in the log (through the Ingestor, no HTTP) before
	// the engine starts, which then reads it as a server reads its log at
	// start: in event time.
	history []funnelwatch.Event
}

// historyBatch is how many events of a history go into one transaction.
const historyBatch = 5000

// openWorkspace opens the SQLite store at path with the benchmarks'
// workspace in it.
func openWorkspace(ctx context.Context, path string) (*sqlstore.Store, error) {
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureWorkspace(ctx, workspace, "Bench"); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// startServer opens a fresh store at path and serves it.
func startServer(ctx context.Context, path string, cfg serverConfig) (*server, error) {
	store, err := openWorkspace(ctx, path)
	if err != nil {
		return nil, err
	}
	s := &server{store: store, flushed: make(chan error, 1), engineOK: make(chan struct{})}
	if s.probe, err = sql.Open("sqlite", "file:"+path+"?mode=ro"); err != nil {
		store.Close()
		return nil, err
	}
	if cfg.funnel == nil && cfg.regs != nil {
		cfg.funnel = &cfg.regs.Funnel
	}
	s.in = &engine.Ingestor{Store: store, Workspace: workspace, Funnel: cfg.funnel}
	if cfg.regs != nil {
		s.live = &engine.Live{Store: store, Workspace: workspace, Regs: cfg.regs, Ingestor: s.in, Now: cfg.now, ObserveUntil: cfg.observeUntil,
			OnFindings: cfg.onFindings}
		s.in.OnCommit = s.live.Notify
	}
	mux := http.NewServeMux()
	(&api.Server{Store: store, Workspace: workspace, Tokens: []string{token}, Ingestor: s.in}).Routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.probe.Close()
		store.Close()
		return nil, err
	}
	s.url = "http://" + ln.Addr().String() + "/api/v1/events"
	s.http = &http.Server{Handler: mux}
	go s.http.Serve(ln)

	for i := 0; i < len(cfg.history); i += historyBatch {
		if _, err := s.in.Ingest(ctx, cfg.history[i:min(i+historyBatch, len(cfg.history))]); err != nil {
			s.http.Close()
			s.probe.Close()
			store.Close()
			return nil, err
		}
	}

	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	go func() { s.flushed <- s.in.Run(bg, engine.DefaultFlushInterval, nil) }()
	if s.live == nil {
		close(s.engineOK)
		return s, nil
	}
	go func() {
		defer close(s.engineOK)
		_ = s.live.Run(bg, func(err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.failed == nil {
				s.failed = err
			}
		})
	}()
	return s, nil
}

// err returns the engine's first failure, if any.
func (s *server) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// caughtUp waits until the engine has evaluated every event of the log
// and written what it found (its own action events included): its
// checkpoint, written with its findings, has reached the log's end.
func (s *server) caughtUp(ctx context.Context, every time.Duration) error {
	for {
		if err := s.err(); err != nil {
			return err
		}
		lag, err := s.lag(ctx)
		if err != nil || lag == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// lag counts the log's events after the engine's checkpoint: those whose
// findings are not written yet. The bench's own read connection finds the
// log's end with a rowid lookup (a fresh store has one workspace and no
// gaps in its seqs), so asking often costs the server nothing.
func (s *server) lag(ctx context.Context) (int64, error) {
	var st funnelwatch.EngineState
	err := s.store.View(ctx, workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		st, err = tx.EngineState(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	var last int64
	if err := s.probe.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&last); err != nil {
		return 0, fmt.Errorf("bench: the log's last seq: %w", err)
	}
	return max(0, last-st.Seq), nil
}

// close stops the engine, then the flush loop (which flushes once more),
// the HTTP server and the store. Calls after the first return its result.
func (s *server) close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.engineOK
		err := <-s.flushed
		s.http.Close()
		s.probe.Close()
		s.store.Close()
		if e := s.err(); e != nil && !errors.Is(e, context.Canceled) {
			err = e
		}
		s.closeErr = err
	})
	return s.closeErr
}
