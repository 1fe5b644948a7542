package web

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// figures keeps the figures of the pages whose reads grow with the data
// (the dashboard's quality report, the funnel report) when computing
// them is slow, and recomputes them in the background while the kept
// ones are shown: a page of a company of a million deals answers at
// once with figures at most a refresh old, and says how old.
//
// Figures that compute faster than Budget are never kept: a company of
// ordinary size (the demo computes its dashboard in a few milliseconds)
// always sees figures as of the request, the task just completed
// included. Kept figures carry the version of the data they were
// computed from (the count of the log's events); once it has changed,
// figures that took less than Patience to compute are computed again
// for the request, so a page that was slow once (a busy machine) does
// not go on showing a past state. Slower ones answer while a background
// refresh recomputes them, once they are older than five times their
// computation (at least MinRefresh), so the refreshes take at most a
// fifth of one core; figures older than MaxAge are recomputed before the
// page answers (after a night, nobody is shown the evening's).
//
// Ages are on the wall clock (time.Now), whatever clock the pages use
// for their periods.
type figures struct {
	Budget     time.Duration
	Patience   time.Duration
	MinRefresh time.Duration
	MaxAge     time.Duration
	// MaxEntries bounds the kept figures (one per scope, period and
	// page); past it, the oldest go.
	MaxEntries int
	Logger     *slog.Logger

	mu sync.Mutex
	m  map[string]*figure
	// wg counts the background refreshes, so close can wait for them;
	// ctx is theirs, ended by close.
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// figure is one kept computation, or one under way (done open).
type figure struct {
	val        any
	version    int64         // of the data it was computed from
	at         time.Time     // when its computation started
	took       time.Duration // how long it took
	refreshing bool
	done       chan struct{} // closed when a first computation ends
}

// asOf is what a page says of its figures: when they were computed and
// how long that took; zero when they are as of the request.
type asOf struct {
	At   time.Time
	Took time.Duration
}

// Kept reports whether the figures are kept ones, computed before the
// request.
func (a asOf) Kept() bool { return !a.At.IsZero() }

// dataVersion is the version of the data the kept figures are checked
// against: the count of the log's events, which every event — a CRM's, a
// page's, a robot's action — moves.
func (s *Server) dataVersion(ctx context.Context) (int64, error) {
	var n int64
	err := s.Store.View(ctx, s.Workspace, func(tx funnelwatch.ReadTx) error {
		var err error
		n, err = tx.EventCount(ctx)
		return err
	})
	return n, err
}

// keptFigures returns the figures of key from s's kept figures, checked
// against the data's version, or compute's when they may not answer.
func keptFigures[T any](ctx context.Context, s *Server, key string, compute func(context.Context) (T, error)) (T, asOf, error) {
	var zero T
	version, err := s.dataVersion(ctx)
	if err != nil {
		return zero, asOf{}, err
	}
	v, a, err := s.figures.get(ctx, key, version, func(ctx context.Context) (any, error) { return compute(ctx) })
	if err != nil {
		return zero, a, err
	}
	return v.(T), a, nil
}

func newFigures() *figures {
	ctx, cancel := context.WithCancel(context.Background())
	return &figures{Budget: 100 * time.Millisecond, Patience: 300 * time.Millisecond, MinRefresh: 5 * time.Second, MaxAge: 5 * time.Minute, MaxEntries: 256,
		ctx: ctx, cancel: cancel}
}

// refreshAfter is the age past which kept figures are refreshed.
func (c *figures) refreshAfter(took time.Duration) time.Duration {
	return min(max(c.MinRefresh, 5*took), c.MaxAge)
}

// get returns the figures of key for the data at version: kept ones
// when they may answer, else what compute returns now. A computation of
// the same key under way is waited for, not repeated.
func (c *figures) get(ctx context.Context, key string, version int64, compute func(context.Context) (any, error)) (any, asOf, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*figure{}
	}
	for {
		f := c.m[key]
		if f == nil {
			break
		}
		if f.done != nil {
			done := f.done
			c.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				return nil, asOf{}, ctx.Err()
			}
			c.mu.Lock()
			continue
		}
		age := time.Since(f.at)
		if age >= c.MaxAge || (f.version != version && f.took < c.Patience) {
			break
		}
		if age >= c.refreshAfter(f.took) && !f.refreshing {
			f.refreshing = true
			c.wg.Add(1)
			go c.refresh(key, f, version, compute)
		}
		val, a := f.val, asOf{At: f.at, Took: f.took}
		c.mu.Unlock()
		return val, a, nil
	}
	pending := &figure{done: make(chan struct{})}
	c.m[key] = pending
	c.mu.Unlock()

	start := time.Now()
	val, err := compute(ctx)
	took := time.Since(start)

	c.mu.Lock()
	defer c.mu.Unlock()
	close(pending.done)
	if c.m[key] == pending {
		delete(c.m, key)
		if err == nil && took >= c.Budget {
			c.keep(key, &figure{val: val, version: version, at: start, took: took})
		}
	}
	return val, asOf{}, err
}

// refresh recomputes f's figures in the background and puts them in its
// place (unless something newer took it). They are of the data at
// version or later: the version is read before computing.
func (c *figures) refresh(key string, f *figure, version int64, compute func(context.Context) (any, error)) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.MaxAge)
	defer cancel()
	start := time.Now()
	val, err := compute(ctx)
	took := time.Since(start)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] != f {
		return
	}
	switch {
	case err != nil:
		f.refreshing = false
		if c.ctx.Err() == nil {
			c.logger().Warn("refreshing figures", "key", key, "err", err)
		}
	case took < c.Budget:
		// Quick again: the next request computes its own.
		delete(c.m, key)
	default:
		c.m[key] = &figure{val: val, version: version, at: start, took: took}
	}
}

// keep adds f under key, dropping the oldest figures past MaxEntries.
// Called with mu held.
func (c *figures) keep(key string, f *figure) {
	for len(c.m) >= c.MaxEntries {
		oldest := ""
		var at time.Time
		for k, g := range c.m {
			if g.done == nil && (oldest == "" || g.at.Before(at)) {
				oldest, at = k, g.at
			}
		}
		if oldest == "" {
			break
		}
		delete(c.m, oldest)
	}
	c.m[key] = f
}

// wait waits for the background refreshes under way.
func (c *figures) wait() { c.wg.Wait() }

// close stops the background refreshes under way and waits for them.
func (c *figures) close() {
	c.cancel()
	c.wg.Wait()
}

func (c *figures) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
