package engine

import (
	"container/heap"
	"time"
)

// agenda is a queue of things due at moments: earliest first, ties in the
// order they were added, so a simulated clock always sees them in the same
// order.
type agenda[T any] struct {
	items dueItems[T]
	seq   int
}

type dueItem[T any] struct {
	at  time.Time
	seq int
	v   T
}

type dueItems[T any] []dueItem[T]

func (h dueItems[T]) Len() int { return len(h) }
func (h dueItems[T]) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h dueItems[T]) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueItems[T]) Push(x any)   { *h = append(*h, x.(dueItem[T])) }
func (h *dueItems[T]) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// add puts v on the agenda at the moment.
func (g *agenda[T]) add(at time.Time, v T) {
	g.seq++
	heap.Push(&g.items, dueItem[T]{at: at, seq: g.seq, v: v})
}

// next returns the earliest moment on the agenda.
func (g *agenda[T]) next() (time.Time, bool) {
	if len(g.items) == 0 {
		return time.Time{}, false
	}
	return g.items[0].at, true
}

// pop removes the earliest item if it is due: before now, or at now when
// inclusive.
func (g *agenda[T]) pop(now time.Time, inclusive bool) (time.Time, T, bool) {
	var zero T
	if len(g.items) == 0 {
		return time.Time{}, zero, false
	}
	it := g.items[0]
	if it.at.After(now) || (!inclusive && it.at.Equal(now)) {
		return time.Time{}, zero, false
	}
	heap.Pop(&g.items)
	return it.at, it.v, true
}
