package engine

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// Deliverer carries out one kind of outside action (a webhook call, a
// notice, a message). The action's Key is its idempotency key: a
// deliverer passes it on, so a receiver that sees an action twice (the
// process died between delivering and recording it) can tell.
type Deliverer interface {
	Deliver(ctx context.Context, a *funnelwatch.ActionRecord) error
}

// DelivererFunc adapts a function to a Deliverer.
type DelivererFunc func(ctx context.Context, a *funnelwatch.ActionRecord) error

// Deliver calls f.
func (f DelivererFunc) Deliver(ctx context.Context, a *funnelwatch.ActionRecord) error {
	return f(ctx, a)
}

// Permanent marks a delivery error that trying again cannot fix (a 4xx
// answer, a malformed action): the action fails at once.
func Permanent(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Defer puts an action off until a time without counting an attempt: a
// notice held through quiet hours, or waiting for its digest.
func Defer(until time.Time, reason string) error { return deferError{until, reason} }

type deferError struct {
	until  time.Time
	reason string
}

func (e deferError) Error() string { return e.reason }

// Dispatcher delivers the outbox's pending actions with retries and
// exponential backoff. Actions of a type no deliverer handles wait in the
// outbox (pending) until one does.
type Dispatcher struct {
	Store      funnelwatch.Store
	Workspace  string
	Deliverers map[string]Deliverer // by action type
	Now        func() time.Time
	Logger     *slog.Logger
	// MaxAttempts before an action fails for good (default 10).
	MaxAttempts int
	// Backoff is the wait after the n-th failed attempt (default 5s·2ⁿ⁻¹,
	// at most an hour).
	Backoff func(attempt int) time.Duration
	// Poll is the longest the dispatcher sleeps (default 1s).
	Poll time.Duration

	mu    sync.Mutex
	wake  chan struct{}
	stats DispatchStats
}

// DispatchStats count delivery attempts since start.
type DispatchStats struct {
	Delivered, Retried, Failed int64
}

// Stats returns the delivery counts.
func (d *Dispatcher) Stats() DispatchStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// DefaultBackoff waits 5 s after the first failure, doubling up to an hour.
func DefaultBackoff(attempt int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) wakeChan() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.wake == nil {
		d.wake = make(chan struct{}, 1)
	}
	return d.wake
}

// Notify tells the dispatcher the outbox grew; it never blocks.
func (d *Dispatcher) Notify() {
	select {
	case d.wakeChan() <- struct{}{}:
	default:
	}
}

// Step delivers the actions due now, up to a batch per type, and returns
// how many it attempted.
func (d *Dispatcher) Step(ctx context.Context) (int, error) {
	types := make([]string, 0, len(d.Deliverers))
	for t := range d.Deliverers {
		types = append(types, t)
	}
	slices.Sort(types)
	n := 0
	for _, typ := range types {
		var due []*funnelwatch.ActionRecord
		err := d.Store.View(ctx, d.Workspace, func(tx funnelwatch.ReadTx) error {
			var err error
			due, err = tx.Actions(ctx, funnelwatch.ActionFilter{Type: typ, DueBy: d.now(), Limit: 100})
			return err
		})
		if err != nil {
			return n, err
		}
		for _, a := range due {
			if err := d.deliver(ctx, d.Deliverers[typ], a); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// deliver makes one attempt and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, del Deliverer, a *funnelwatch.ActionRecord) error {
	err := del.Deliver(ctx, a)
	if ctx.Err() != nil {
		return ctx.Err() // shutting down: the attempt is not counted
	}
	now := d.now()
	var put deferError
	if errors.As(err, &put) {
		a.LastError, a.NextAttemptAt = put.reason, put.until
		return d.Store.Update(ctx, d.Workspace, func(tx funnelwatch.Tx) error { return tx.UpdateAction(ctx, a) })
	}
	a.Attempts++
	maxAttempts := d.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 10
	}
	d.mu.Lock()
	switch {
	case err == nil:
		d.stats.Delivered++
	case IsPermanent(err) || a.Attempts >= maxAttempts:
		d.stats.Failed++
	default:
		d.stats.Retried++
	}
	d.mu.Unlock()
	switch {
	case err == nil:
		a.Status, a.LastError, a.DoneAt = funnelwatch.ActionDone, "", &now
	case IsPermanent(err) || a.Attempts >= maxAttempts:
		a.Status, a.LastError = funnelwatch.ActionFailed, err.Error()
	default:
		backoff := d.Backoff
		if backoff == nil {
			backoff = DefaultBackoff
		}
		a.LastError, a.NextAttemptAt = err.Error(), now.Add(backoff(a.Attempts))
	}
	if err != nil && d.Logger != nil {
		d.Logger.Warn("action delivery failed", "key", a.Key, "type", a.Type, "attempt", a.Attempts, "status", a.Status, "err", err)
	}
	return d.Store.Update(ctx, d.Workspace, func(tx funnelwatch.Tx) error { return tx.UpdateAction(ctx, a) })
}

// Run delivers until ctx ends: when told the outbox grew, and every Poll
// (retries come due with time).
func (d *Dispatcher) Run(ctx context.Context, onError func(error)) error {
	poll := d.Poll
	if poll <= 0 {
		poll = time.Second
	}
	wake := d.wakeChan()
	for {
		n, err := d.Step(ctx)
		if err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		if n > 0 && err == nil {
			continue // there may be more due
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}
