package auth

import (
	"sync"
	"time"
)

// Brake slows password guessing: after MaxFailures failed sign-ins of a
// user, or from a client address, within Window, further attempts of
// that user or client are refused until Window has passed since the
// last failure. A success clears the user's and the client's count.
type Brake struct {
	MaxFailures int           // 5 when 0
	Window      time.Duration // a minute when 0

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

func (b *Brake) limits() (int, time.Duration) {
	n, w := b.MaxFailures, b.Window
	if n <= 0 {
		n = 5
	}
	if w <= 0 {
		w = time.Minute
	}
	return n, w
}

// Allow reports whether a sign-in of user from client may be tried now.
func (b *Brake) Allow(user, client string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	max, window := b.limits()
	for _, k := range []string{"u:" + user, "c:" + client} {
		if f := b.fails[k]; f != nil {
			if now.Sub(f.last) >= window {
				delete(b.fails, k)
				continue
			}
			if f.n >= max {
				return false
			}
		}
	}
	return true
}

// Fail records a failed sign-in.
func (b *Brake) Fail(user, client string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails == nil {
		b.fails = map[string]*failures{}
	}
	_, window := b.limits()
	// Forget stale entries so the map does not grow with every guess.
	if len(b.fails) > 10000 {
		for k, f := range b.fails {
			if now.Sub(f.last) >= window {
				delete(b.fails, k)
			}
		}
	}
	for _, k := range []string{"u:" + user, "c:" + client} {
		f := b.fails[k]
		if f == nil {
			f = &failures{}
			b.fails[k] = f
		}
		f.n++
		f.last = now
	}
}

// Succeed clears the counts of the user and the client.
func (b *Brake) Succeed(user, client string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.fails, "u:"+user)
	delete(b.fails, "c:"+client)
}
