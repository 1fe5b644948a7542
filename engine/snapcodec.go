package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// snapWriter appends the values of a snapshot: integers as varints,
// strings and byte strings with their length first, times as their zone
// and their instant. An instant is written in seconds from the one
// written before it (and its nanoseconds, when there are any): a deal's
// times lie within days of each other, so most take three or four bytes,
// not nine. The chain starts again at each deal's record (restart), which
// is read on its own when a frozen deal thaws.
type snapWriter struct {
	b    []byte
	home *time.Location // the regulations' timezone, written as one byte
	prev int64          // the seconds of the last instant written
	// dict: the names (pipelines, stages, users, sources, task kinds)
	// written as their place in it; grow: a name not in it is added
	// (freezing a deal), else written out (a snapshot, which wrote the
	// dictionary before its deals).
	dict *nameDict
	grow bool
}

// nameDict numbers the names the deals' records repeat. It only grows
// (a record refers to it for as long as it is kept), up to maxDictNames;
// a snapshot carries it, before the records that use it.
type nameDict struct {
	idx  map[string]uint64
	list []string
}

const maxDictNames = 1 << 16

// name writes a name: its place in the dictionary, or the name itself.
func (w *snapWriter) name(s string) {
	if d := w.dict; d != nil {
		i, ok := d.idx[s]
		if !ok && w.grow && len(d.list) < maxDictNames {
			if d.idx == nil {
				d.idx = map[string]uint64{}
			}
			i, ok = uint64(len(d.list)), true
			d.idx[s] = i
			d.list = append(d.list, s)
		}
		if ok {
			w.uint(i<<1 | 1)
			return
		}
	}
	w.uint(uint64(len(s)) << 1)
	w.b = append(w.b, s...)
}

// restart begins a record that can be read on its own.
func (w *snapWriter) restart() { w.prev = 0 }

func (w *snapWriter) uint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *snapWriter) int(v int64)   { w.b = binary.AppendVarint(w.b, v) }

func (w *snapWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *snapWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// strAs writes s, or one byte when it is same (a deal's id where its
// record names it already).
func (w *snapWriter) strAs(s, same string) {
	if s == same {
		w.uint(0)
		return
	}
	w.uint(uint64(len(s)) + 1)
	w.b = append(w.b, s...)
}

func (w *snapWriter) bytes(p []byte) {
	w.uint(uint64(len(p)))
	w.b = append(w.b, p...)
}

// float writes the value's bits with their bytes reversed, as gob does:
// the low bytes of a round number's mantissa are zeros, and a varint of
// the reversed bits is short (an amount of 12,000 in three bytes).
func (w *snapWriter) float(f float64) { w.uint(bits.ReverseBytes64(math.Float64bits(f))) }

// Time zones of a written time.
const (
	zoneNone  = iota // the zero time
	zoneUTC          // UTC
	zoneLocal        // the process's local zone
	zoneHome         // the regulations' timezone
	zoneFixed        // another offset, written after it (its name is not kept)

	zoneMask  = 0x07
	timeNanos = 0x08 // with the zone: nanoseconds follow the seconds
)

func (w *snapWriter) time(t time.Time) {
	if t.IsZero() {
		w.b = append(w.b, zoneNone)
		return
	}
	sec, ns := t.Unix(), t.Nanosecond()
	var flags byte
	if ns != 0 {
		flags = timeNanos
	}
	switch loc := t.Location(); {
	case loc == time.UTC:
		w.b = append(w.b, zoneUTC|flags)
	case loc == time.Local:
		w.b = append(w.b, zoneLocal|flags)
	case loc == w.home:
		w.b = append(w.b, zoneHome|flags)
	default:
		_, off := t.Zone()
		w.b = append(w.b, zoneFixed|flags)
		w.int(int64(off))
	}
	w.int(sec - w.prev)
	w.prev = sec
	if ns != 0 {
		w.uint(uint64(ns))
	}
}

func (w *snapWriter) timePtr(t *time.Time) {
	w.bool(t != nil)
	if t != nil {
		w.time(*t)
	}
}

// snapReader reads what snapWriter wrote. The first error sticks: every
// read after it returns a zero value, and err says what was wrong.
type snapReader struct {
	b     []byte
	err   error
	home  *time.Location
	zones map[int]*time.Location // one location a fixed offset
	prev  int64                  // the seconds of the last instant read
	dict  *nameDict              // what snapWriter.name numbered
	names *names                 // one copy of each name written out
}

// name reads what snapWriter.name wrote.
func (r *snapReader) name() string {
	v := r.uint()
	if r.err != nil {
		return ""
	}
	if v&1 == 1 {
		if r.dict == nil || v>>1 >= uint64(len(r.dict.list)) {
			r.fail(fmt.Errorf("engine snapshot: name %d is not in the dictionary", v>>1))
			return ""
		}
		return r.dict.list[v>>1]
	}
	n := v >> 1
	if n > uint64(len(r.b)) {
		r.fail(errSnapShort)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	if r.names != nil {
		s = r.names.of(s)
	}
	return s
}

// restart begins a record written after snapWriter.restart.
func (r *snapReader) restart() { r.prev = 0 }

var errSnapShort = errors.New("engine snapshot: truncated or damaged")

func (r *snapReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *snapReader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errSnapShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errSnapShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads the length of a list whose items take at least one byte
// each: a damaged length cannot make a huge allocation.
func (r *snapReader) count() int {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.fail(errSnapShort)
		return 0
	}
	return int(n)
}

func (r *snapReader) bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) == 0 || r.b[0] > 1 {
		r.fail(errSnapShort)
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

func (r *snapReader) raw() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *snapReader) str() string { return string(r.raw()) }

// strAs reads what snapWriter.strAs wrote.
func (r *snapReader) strAs(same string) string {
	n := r.uint()
	switch {
	case r.err != nil:
		return ""
	case n == 0:
		return same
	case n-1 > uint64(len(r.b)):
		r.fail(errSnapShort)
		return ""
	}
	s := string(r.b[:n-1])
	r.b = r.b[n-1:]
	return s
}

func (r *snapReader) float() float64 { return math.Float64frombits(bits.ReverseBytes64(r.uint())) }

func (r *snapReader) int32() int32 {
	v := r.int()
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail(errSnapShort)
		return 0
	}
	return int32(v)
}

func (r *snapReader) time() time.Time {
	if r.err != nil {
		return time.Time{}
	}
	if len(r.b) == 0 {
		r.fail(errSnapShort)
		return time.Time{}
	}
	zone, flags := r.b[0]&zoneMask, r.b[0]&^zoneMask
	r.b = r.b[1:]
	if flags&^timeNanos != 0 || (zone == zoneNone && flags != 0) {
		r.fail(errSnapShort)
		return time.Time{}
	}
	var loc *time.Location
	switch zone {
	case zoneNone:
		return time.Time{}
	case zoneUTC:
		loc = time.UTC
	case zoneLocal:
		loc = time.Local
	case zoneHome:
		loc = r.home
	case zoneFixed:
		off := r.int()
		if off < -18*3600 || off > 18*3600 {
			r.fail(fmt.Errorf("engine snapshot: a time zone %d s from UTC", off))
			return time.Time{}
		}
		if loc = r.zones[int(off)]; loc == nil {
			loc = time.FixedZone("", int(off))
			r.zones[int(off)] = loc
		}
	default:
		r.fail(errSnapShort)
		return time.Time{}
	}
	sec := r.prev + r.int()
	var ns uint64
	if flags&timeNanos != 0 {
		if ns = r.uint(); ns == 0 || ns >= 1e9 {
			r.fail(errSnapShort)
		}
	}
	if r.err != nil {
		return time.Time{}
	}
	r.prev = sec
	return time.Unix(sec, int64(ns)).In(loc)
}

func (r *snapReader) timePtr() *time.Time {
	if !r.bool() {
		return nil
	}
	t := r.time()
	return &t
}
