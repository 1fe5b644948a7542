package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/api"
	"github.com/funnelwatch/funnelwatch/auth"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/mail"
	"github.com/funnelwatch/funnelwatch/messenger"
	"github.com/funnelwatch/funnelwatch/metrics"
	"github.com/funnelwatch/funnelwatch/notify"
	"github.com/funnelwatch/funnelwatch/postgres"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/reporting"
	"github.com/funnelwatch/funnelwatch/sqlite"
	"github.com/funnelwatch/funnelwatch/sqlstore"
	"github.com/funnelwatch/funnelwatch/telegram"
	"github.com/funnelwatch/funnelwatch/web"
	"github.com/funnelwatch/funnelwatch/webhook"
)

// workspaceID is the workspace a single-company install keeps its data in.
const workspaceID = "default"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	regsPath := fs.String("regulations", env("REGULATIONS", ""), "regulations file (YAML)")
	db := fs.String("db", env("DB", ""), "store: sqlite:PATH or postgres://… (default: sqlite in the data directory)")
	addr := fs.String("addr", env("ADDR", "127.0.0.1:8080"), "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *regsPath == "" {
		return usageErr("--regulations FILE is required")
	}
	*db = storeURL(*db)
	regs, err := regulations.ParseFile(*regsPath)
	if err != nil {
		return fmt.Errorf("regulations %s: %w", *regsPath, err)
	}
	tokens := apiTokens()
	if len(tokens) == 0 {
		fmt.Fprintln(stderr, "warning: FUNNELWATCH_API_TOKEN is not set; the API refuses every request")
	}
	a, err := openApp(ctx, *db, regs, tokens, logger(stderr), true)
	if err != nil {
		return err
	}
	defer a.close()
	// The regulations page offers the running file to edit and check.
	if src, err := os.ReadFile(*regsPath); err == nil {
		a.pages.Source = src
	}
	if err := firstAdmin(ctx, a, os.Getenv("FUNNELWATCH_ADMIN_PASSWORD"), stderr); err != nil {
		return err
	}
	return a.serve(ctx, *addr, func(url string) {
		fmt.Fprintf(stdout, "funnelwatch serving %s on %s\n", regs.Company, url)
	})
}

func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// apiTokens returns the admin tokens from the environment.
func apiTokens() []string {
	if t := strings.TrimSpace(os.Getenv("FUNNELWATCH_API_TOKEN")); t != "" {
		return []string{t}
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openStore opens the store a --db URL names.
func openStore(ctx context.Context, db string) (*sqlstore.Store, error) {
	if path, ok := trimSQLitePrefix(db); ok {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, err
		}
		return sqlite.Open(ctx, path)
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return postgres.Open(ctx, db)
	}
	return nil, usageErr("--db must be sqlite:PATH or postgres://…, not %q", db)
}

// notifier delivers notify actions through the channels the environment
// configures (FUNNELWATCH_TELEGRAM_TOKEN, and FUNNELWATCH_TELEGRAM_URL for
// another Bot API server; FUNNELWATCH_SMTP_URL for e-mail); with none,
// notices wait in the outbox.
// FUNNELWATCH_BASE_URL links a notice to the deal's page.
func notifier(store funnelwatch.Store, regs *regulations.Regulations, log *slog.Logger) *notify.Notifier {
	channels := map[string]notify.Channel{}
	if token := strings.TrimSpace(os.Getenv("FUNNELWATCH_TELEGRAM_TOKEN")); token != "" {
		client := &telegram.Client{Token: token, BaseURL: os.Getenv("FUNNELWATCH_TELEGRAM_URL")}
		if pace, err := time.ParseDuration(os.Getenv("FUNNELWATCH_TELEGRAM_PACE")); err == nil && pace > 0 {
			client.PerChat = pace // a local Bot API server, or tests: Telegram's own is a message a second per chat
		}
		channels["telegram"] = notify.Telegram{Client: client}
	}
	if u := strings.TrimSpace(os.Getenv("FUNNELWATCH_SMTP_URL")); u != "" {
		cfg, err := mail.ParseURL(u)
		if err != nil {
			log.Error("FUNNELWATCH_SMTP_URL: e-mail notices are off", "err", err)
		} else {
			channels["email"] = notify.Email{Sender: &mail.Sender{Config: cfg}}
		}
	}
	if len(channels) == 0 {
		return nil
	}
	return &notify.Notifier{Store: store, Workspace: workspaceID, Regs: regs, Channels: channels,
		BaseURL: os.Getenv("FUNNELWATCH_BASE_URL"), Logger: log}
}

// snapshotEvery reads FUNNELWATCH_ENGINE_SNAPSHOT_EVERY: the fewest
// events between two snapshots of the rules engine's state (default
// 20,000; negative: none, and every start reads the whole log).
func snapshotEvery(log *slog.Logger) int {
	v := strings.TrimSpace(os.Getenv("FUNNELWATCH_ENGINE_SNAPSHOT_EVERY"))
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		log.Error("FUNNELWATCH_ENGINE_SNAPSHOT_EVERY is not a whole number: the default is used", "value", v)
		return 0
	}
	return n
}

// app is a running funnelwatch: store, regulations and HTTP surfaces.
type app struct {
	store    *sqlstore.Store
	logStore *sqlstore.Store // SQLite: what the engine first reads the log through (nil: store)
	regs     *regulations.Regulations
	ingestor *engine.Ingestor
	live     *engine.Live         // the regulations, on the wall clock
	outbox   *engine.Dispatcher   // delivers the actions that leave funnelwatch
	reports  *reporting.Scheduler // queues the scheduled quality reports
	release  func() error         // the workspace's ingest lease
	api      *api.Server
	pages    *web.Server
	sessions *auth.Sessions
	handler  http.Handler
	log      *slog.Logger
}

// openApp opens the store and takes the workspace's ingest lease: a
// standby (wait) blocks until the process holding it stops; otherwise a
// held lease is an error at once.
func openApp(ctx context.Context, db string, regs *regulations.Regulations, tokens []string, log *slog.Logger, wait bool) (*app, error) {
	store, err := openStore(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := store.EnsureWorkspace(ctx, workspaceID, regs.Company); err != nil {
		store.Close()
		return nil, err
	}
	release, err := lease(ctx, store, log, wait)
	if err != nil {
		store.Close()
		return nil, err
	}
	a := &app{store: store, regs: regs, log: log, release: release}
	a.ingestor = &engine.Ingestor{Store: store, Workspace: workspaceID, Funnel: &regs.Funnel}
	a.live = &engine.Live{Store: store, Workspace: workspaceID, Regs: regs, Ingestor: a.ingestor, Logger: log,
		SnapshotEvery: snapshotEvery(log)}
	if path, ok := trimSQLitePrefix(db); ok {
		// The engine's first read of the whole log, unmapped: otherwise
		// the log stays mapped into the process's memory.
		if a.logStore, err = sqlite.OpenLogReader(ctx, path); err != nil {
			a.close()
			return nil, err
		}
		a.live.Log = a.logStore
	}
	a.ingestor.OnCommit = a.live.Notify
	a.outbox = &engine.Dispatcher{Store: store, Workspace: workspaceID, Logger: log,
		Deliverers: map[string]engine.Deliverer{"webhook": &webhook.Client{Secret: []byte(os.Getenv("FUNNELWATCH_WEBHOOK_SECRET"))}}}
	if n := notifier(store, regs, log); n != nil {
		n.Sync = a.ingestor.Sync
		n.Report = reporting.Render(store, workspaceID, regs, n.BaseURL, time.Now)
		a.outbox.Deliverers["notify"] = n
		a.outbox.Deliverers[notify.ActionReport] = n
	}
	if u := strings.TrimSpace(os.Getenv("FUNNELWATCH_MESSENGER_URL")); u != "" {
		a.outbox.Deliverers["message"] = &messenger.Gateway{URL: u, Token: os.Getenv("FUNNELWATCH_MESSENGER_TOKEN"),
			Client: &webhook.Client{Secret: []byte(os.Getenv("FUNNELWATCH_WEBHOOK_SECRET"))}, Store: store,
			Workspace: workspaceID, Sync: a.ingestor.Sync}
	}
	a.reports = &reporting.Scheduler{Store: store, Workspace: workspaceID, Regs: regs, OnWrite: a.outbox.Notify, Logger: log}
	a.live.OnWrite = a.outbox.Notify
	mux := http.NewServeMux()
	a.api = &api.Server{Store: store, Workspace: workspaceID, Ingestor: a.ingestor, Tokens: tokens, Logger: log,
		Funnel: &regs.Funnel, Engine: a.live}
	keys := &auth.APITokens{Store: store, Workspace: workspaceID}
	a.api.Keys = keys
	a.api.Routes(mux)
	a.sessions = &auth.Sessions{Store: store, Workspace: workspaceID, Funnel: &regs.Funnel, Brake: &auth.Brake{}}
	pages, err := web.New(web.Server{Store: store, Workspace: workspaceID, Funnel: &regs.Funnel, Regulations: regs, Logger: log,
		Sync: a.ingestor.Sync, Engine: a.live, Ingestor: a.ingestor, Sessions: a.sessions, Tokens: keys,
		SecureCookies: strings.HasPrefix(os.Getenv("FUNNELWATCH_BASE_URL"), "https://")})
	if err != nil {
		a.close()
		return nil, err
	}
	pages.Routes(mux)
	a.pages = pages
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Ping(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	m := metrics.New(metrics.Sources{Store: store, Workspace: workspaceID, Ingestor: a.ingestor, Engine: a.live,
		Dispatcher: a.outbox, Logger: log})
	mux.Handle("GET /metrics", m.Handler())
	a.handler = m.Instrument(mux)
	return a, nil
}

// lease takes the workspace's ingest lease, waiting for it when asked.
func lease(ctx context.Context, store *sqlstore.Store, log *slog.Logger, wait bool) (func() error, error) {
	quick, cancel := context.WithTimeout(ctx, 2*time.Second)
	release, err := store.Lease(quick, workspaceID)
	cancel()
	if err == nil {
		return release, nil
	}
	if !wait || ctx.Err() != nil {
		return nil, fmt.Errorf("another funnelwatch process is ingesting into this store (%v); stop it, or send the events to its API", err)
	}
	log.Warn("waiting for the workspace: another funnelwatch process holds it; this one takes over when it stops")
	return store.Lease(ctx, workspaceID)
}

// close releases the lease and the store.
func (a *app) close() {
	if a.pages != nil {
		a.pages.Close()
	}
	if a.release != nil {
		if err := a.release(); err != nil {
			a.log.Error("release lease", "err", err)
		}
	}
	if a.logStore != nil {
		a.logStore.Close()
	}
	a.store.Close()
}

// setTokens replaces the API tokens; call it before serving.
func (a *app) setTokens(tokens []string) { a.api.Tokens = tokens }

// serve listens on addr until ctx ends, then shuts down gracefully:
// requests in flight (an ingest batch) finish first.
func (a *app) serve(ctx context.Context, addr string, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// The state tables follow the log (readers Sync before they read).
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan error, 1)
	go func() {
		flushed <- a.ingestor.Run(flushCtx, engine.DefaultFlushInterval, func(err error) {
			a.log.Error("writing the state tables behind the log", "err", err)
		})
	}()
	// The engine evaluates the log as it grows and on the clock; the
	// outbox delivers what it decides.
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	engineDone := make(chan struct{}, 3)
	go func() {
		_ = a.live.Run(engineCtx, func(err error) { a.log.Error("rules engine", "err", err) })
		engineDone <- struct{}{}
	}()
	go func() {
		_ = a.outbox.Run(engineCtx, func(err error) { a.log.Error("outbox", "err", err) })
		engineDone <- struct{}{}
	}()
	go func() {
		a.reports.Run(engineCtx, func(err error) { a.log.Error("scheduled reports", "err", err) })
		engineDone <- struct{}{}
	}()
	defer func() {
		stopEngine()
		<-engineDone
		<-engineDone
		<-engineDone
		// What the engine decided last is written before the state
		// tables' final flush, with a snapshot of its state for the
		// next start.
		final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		if err := a.live.StepAndSnapshot(final); err != nil {
			a.log.Error("rules engine final step", "err", err)
		}
		cancel()
		stopFlush()
		if err := <-flushed; err != nil {
			a.log.Error("final flush", "err", err)
		}
	}()
	ready("http://" + displayAddr(ln.Addr()))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// displayAddr turns a wildcard listen address into one a browser opens.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

var _ funnelwatch.Store = (*sqlstore.Store)(nil)
