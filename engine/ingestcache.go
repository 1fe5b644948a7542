package engine

import (
	"fmt"
	"time"
)

// The Ingestor's cache keeps the deals it last saw written (not dirty)
// beyond the few it works on as their records (the snapshot codec's
// deal and tasks: snapEncoder.deal), a few hundred bytes each rather than
// ~1 KiB: with 1,000,000 open deals its 200,000 cached deals were 190 MiB
// of the server's memory. A batch that needs one reads it back, as it
// would have copied the live one; its changes go back into the cache
// live, and written, it is frozen again by the next eviction.

// maxLiveCached is how many of the cached deals stay live: a batch's
// deals and those of the batches just before it, which are the ones the
// next events are about.
const maxLiveCached = 20000

// foldCodec writes and reads the Ingestor's frozen deals.
type foldCodec struct {
	enc  snapEncoder
	dict nameDict
	// names keeps one copy of the names the read-back deals repeat, as
	// the engine's replay does (the decoder finds them there).
	names replay
	zones map[int]*time.Location
}

func (c *foldCodec) freeze(id string, a *Aggregate) ([]byte, error) {
	e := &c.enc
	e.w.b = e.w.b[:0]
	e.w.dict, e.w.grow = &c.dict, true
	if err := e.deal(id, a); err != nil {
		return nil, err
	}
	return append(make([]byte, 0, len(e.w.b)), e.w.b...), nil
}

// thaw returns a new aggregate of the record, as the Ingestor keeps them
// (dirty marks kept from now on).
func (c *foldCodec) thaw(rec []byte) *Aggregate {
	if c.zones == nil {
		c.zones = map[int]*time.Location{}
	}
	d := &snapDecoder{r: &c.names, in: snapReader{b: rec, zones: c.zones, dict: &c.dict, names: &c.names.names}}
	a := NewAggregate()
	id := d.dealInto(a)
	if d.in.err == nil && len(d.in.b) > 0 {
		d.in.fail(fmt.Errorf("%d bytes past its end", len(d.in.b)))
	}
	if d.in.err != nil {
		// The record was written by this process, by the same code.
		panic(fmt.Sprintf("engine: the Ingestor's record of deal %s does not read back: %v", id, d.in.err))
	}
	return a
}

// cached returns the cached aggregate of the deal: the live one, or a new
// one read from its record; nil when the cache does not hold the deal.
// The live one is the cache's own: callers that change it clone it.
func (in *Ingestor) cached(id string) (a *Aggregate, live bool) {
	if a := in.cache[id]; a != nil {
		return a, true
	}
	if rec, ok := in.frozen[id]; ok {
		return in.codec.thaw(rec), false
	}
	return nil, false
}

// holds reports whether the cache holds the deal, live or frozen.
func (in *Ingestor) holds(id string) bool {
	if _, ok := in.cache[id]; ok {
		return true
	}
	_, ok := in.frozen[id]
	return ok
}

// freezeWritten keeps the written deals beyond maxLiveCached as records.
func (in *Ingestor) freezeWritten() {
	live := in.maxLive
	if live == 0 {
		live = maxLiveCached
	}
	if len(in.cache) <= live {
		return
	}
	if in.frozen == nil {
		in.frozen = map[string][]byte{}
	}
	for id, a := range in.cache {
		// A hundredth at a time: this runs in a batch's commit, which
		// the request waits for (a tenth was ~2,000 encodings at once).
		if len(in.cache) <= live*99/100 {
			return
		}
		if in.pending.dirty[id] || a.dirty() {
			continue
		}
		rec, err := in.codec.freeze(id, a)
		if err != nil {
			continue // kept live
		}
		in.frozen[id] = rec
		delete(in.cache, id)
	}
}
