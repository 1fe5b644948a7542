package engine

import "time"

// agenda is a queue of things due at moments: earliest first, ties in the
// order they were added, so a simulated clock always sees them in the same
// order. It is a four-ary heap kept by hand rather than through
// container/heap: the engine pushes and pops a few times per event, and
// the interface calls and the boxing of every item cost more than the
// comparisons; four children a node halve the depth of a heap of many
// deadlines, and lie side by side in memory.
type agenda[T any] struct {
	items []dueItem[T]
	seq   uint64
}

type dueItem[T any] struct {
	at  time.Time
	seq uint64
	v   T
}

func (x *dueItem[T]) before(y *dueItem[T]) bool {
	if c := x.at.Compare(y.at); c != 0 {
		return c < 0
	}
	return x.seq < y.seq
}

// add puts v on the agenda at the moment.
func (g *agenda[T]) add(at time.Time, v T) { g.addAt(at, g.reserve(), v) }

// reserve takes the next place among things due at the same moment
// without adding anything: addAt puts an item in it later, and it comes
// out where an item added now would have.
func (g *agenda[T]) reserve() uint64 {
	g.seq++
	return g.seq
}

// addAt puts v on the agenda at the moment, in a place reserve gave.
func (g *agenda[T]) addAt(at time.Time, seq uint64, v T) {
	g.items = append(g.items, dueItem[T]{at: at, seq: seq, v: v})
	h := g.items
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !h[i].before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

// next returns the earliest moment on the agenda.
func (g *agenda[T]) next() (time.Time, bool) {
	if len(g.items) == 0 {
		return time.Time{}, false
	}
	return g.items[0].at, true
}

// len returns how many things wait.
func (g *agenda[T]) len() int { return len(g.items) }

// pop removes the earliest item if it is due: before now, or at now when
// inclusive.
func (g *agenda[T]) pop(now time.Time, inclusive bool) (time.Time, T, bool) {
	it, ok := g.popItem(now, inclusive)
	return it.at, it.v, ok
}

// popItem is pop, with the item's place among ties.
func (g *agenda[T]) popItem(now time.Time, inclusive bool) (dueItem[T], bool) {
	if len(g.items) == 0 {
		return dueItem[T]{}, false
	}
	it := g.items[0]
	if c := it.at.Compare(now); c > 0 || (!inclusive && c == 0) {
		return dueItem[T]{}, false
	}
	h := g.items
	n := len(h) - 1
	h[0] = h[n]
	h[n] = dueItem[T]{} // drop the references the item held
	h = h[:n]
	i := 0
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		c := first
		for j := first + 1; j < first+4 && j < n; j++ {
			if h[j].before(&h[c]) {
				c = j
			}
		}
		if !h[c].before(&h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	g.items = h
	if cap(h) > 64 && len(h) < cap(h)/4 {
		// A burst of deadlines has passed: give the memory back.
		g.items = append([]dueItem[T](nil), h...)
	}
	return it, true
}
