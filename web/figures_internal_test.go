package web

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counter is a computation that returns how many times it ran.
type counter struct{ n atomic.Int64 }

func (c *counter) compute(context.Context) (any, error) { return c.n.Add(1), nil }

func TestFiguresQuickAreNotKept(t *testing.T) {
	c := newFigures() // 100 ms budget: a counter computes in nanoseconds
	var n counter
	for i := int64(1); i <= 3; i++ {
		v, a, err := c.get(context.Background(), "k", 1, n.compute)
		if err != nil {
			t.Fatal(err)
		}
		if v.(int64) != i || a.Kept() {
			t.Fatalf("request %d: got %v (kept %v), want a fresh %d", i, v, a.Kept(), i)
		}
	}
}

func TestFiguresSlowAreKeptAndRefreshed(t *testing.T) {
	c := newFigures()
	c.Budget = time.Nanosecond // every computation counts as slow
	c.MinRefresh = time.Hour
	var n counter
	v, a, _ := c.get(context.Background(), "k", 1, n.compute)
	if v.(int64) != 1 || a.Kept() {
		t.Fatalf("first request: %v kept %v, want a fresh 1", v, a.Kept())
	}
	before := time.Now()
	v, a, _ = c.get(context.Background(), "k", 1, n.compute)
	if v.(int64) != 1 || !a.Kept() || a.At.After(before) || a.Took <= 0 {
		t.Fatalf("second request: %v %+v, want the kept 1 with its time", v, a)
	}
	if n.n.Load() != 1 {
		t.Fatalf("computed %d times, want once", n.n.Load())
	}
	// Another key is other figures.
	if v, _, _ = c.get(context.Background(), "other", 1, n.compute); v.(int64) != 2 {
		t.Fatalf("other key: %v, want 2", v)
	}

	// Past the refresh age the kept figures answer and a refresh starts;
	// once it is done, its figures answer.
	c.m["k"].at = c.m["k"].at.Add(-time.Minute) // a minute old
	c.MinRefresh = time.Second
	v, a, _ = c.get(context.Background(), "k", 1, n.compute)
	if v.(int64) != 1 || !a.Kept() {
		t.Fatalf("request past the refresh age: %v, want the kept 1 while refreshing", v)
	}
	c.wait()
	c.MinRefresh = time.Hour
	if v, _, _ = c.get(context.Background(), "k", 1, n.compute); v.(int64) != 3 {
		t.Fatalf("after the refresh: %v, want 3", v)
	}

	// Past the longest age they are computed before answering.
	c.m["k"].at = c.m["k"].at.Add(-c.MaxAge)
	if v, a, _ = c.get(context.Background(), "k", 1, n.compute); v.(int64) != 4 || a.Kept() {
		t.Fatalf("past the longest age: %v kept %v, want a fresh 4", v, a.Kept())
	}
}

func TestFiguresOneComputationAtATime(t *testing.T) {
	c := newFigures()
	c.Budget = time.Nanosecond
	c.MinRefresh = time.Hour
	var runs atomic.Int64
	release := make(chan struct{})
	slow := func(context.Context) (any, error) {
		runs.Add(1)
		<-release
		return "figures", nil
	}
	var wg sync.WaitGroup
	got := make([]any, 5)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, _ = c.get(context.Background(), "k", 1, slow)
		}()
	}
	// Let the requests queue up behind the first computation.
	for deadline := time.Now().Add(10 * time.Second); runs.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("%d computations for five requests of one key, want 1", runs.Load())
	}
	for i, v := range got {
		if v != "figures" {
			t.Fatalf("request %d got %v", i, v)
		}
	}
}

func TestFiguresErrorsAreNotKept(t *testing.T) {
	c := newFigures()
	c.Budget = time.Nanosecond
	broken := errors.New("disk gone")
	_, _, err := c.get(context.Background(), "k", 1, func(context.Context) (any, error) { return nil, broken })
	if !errors.Is(err, broken) {
		t.Fatalf("err = %v, want the computation's", err)
	}
	var n counter
	if v, a, _ := c.get(context.Background(), "k", 1, n.compute); v.(int64) != 1 || a.Kept() {
		t.Fatalf("after an error: %v kept %v, want a fresh computation", v, a.Kept())
	}
}

func TestFiguresBounded(t *testing.T) {
	c := newFigures()
	c.Budget = time.Nanosecond
	c.MinRefresh = time.Hour
	c.MaxEntries = 3
	var n counter
	for _, k := range []string{"a", "b", "c", "d"} {
		c.get(context.Background(), k, 1, n.compute)
	}
	if len(c.m) != 3 {
		t.Fatalf("%d figures kept, want 3", len(c.m))
	}
	if _, ok := c.m["a"]; ok {
		t.Fatal("the oldest figures were not the ones dropped")
	}
}

func TestFiguresChangedData(t *testing.T) {
	c := newFigures()
	c.Budget = time.Nanosecond
	c.MinRefresh = time.Hour
	var n counter
	c.get(context.Background(), "k", 1, n.compute)
	// New data, figures quicker than Patience: computed for the request.
	if v, a, _ := c.get(context.Background(), "k", 2, n.compute); v.(int64) != 2 || a.Kept() {
		t.Fatalf("after a change, quick figures: %v kept %v, want a fresh 2", v, a.Kept())
	}
	if v, a, _ := c.get(context.Background(), "k", 2, n.compute); v.(int64) != 2 || !a.Kept() {
		t.Fatalf("no change since: %v kept %v, want the kept 2", v, a.Kept())
	}
	// Figures slower than Patience answer though the data changed.
	c.Patience = time.Nanosecond
	if v, a, _ := c.get(context.Background(), "k", 3, n.compute); v.(int64) != 2 || !a.Kept() {
		t.Fatalf("after a change, slow figures: %v kept %v, want the kept 2", v, a.Kept())
	}
}
