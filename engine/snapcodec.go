package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// snapWriter appends the values of a snapshot: integers as varints,
// strings and byte strings with their length first, times as their
// instant and their zone.
type snapWriter struct {
	b    []byte
	home *time.Location // the regulations' timezone, written as one byte
}

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

func (w *snapWriter) bytes(p []byte) {
	w.uint(uint64(len(p)))
	w.b = append(w.b, p...)
}

func (w *snapWriter) float(f float64) { w.uint(math.Float64bits(f)) }

// Time zones of a written time.
const (
	zoneNone  = iota // the zero time
	zoneUTC          // UTC
	zoneLocal        // the process's local zone
	zoneHome         // the regulations' timezone
	zoneFixed        // another offset, written after it (its name is not kept)
)

func (w *snapWriter) time(t time.Time) {
	if t.IsZero() {
		w.b = append(w.b, zoneNone)
		return
	}
	switch loc := t.Location(); {
	case loc == time.UTC:
		w.b = append(w.b, zoneUTC)
	case loc == time.Local:
		w.b = append(w.b, zoneLocal)
	case loc == w.home:
		w.b = append(w.b, zoneHome)
	default:
		_, off := t.Zone()
		w.b = append(w.b, zoneFixed)
		w.int(int64(off))
	}
	w.int(t.UnixNano())
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
}

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

func (r *snapReader) str() string    { return string(r.raw()) }
func (r *snapReader) float() float64 { return math.Float64frombits(r.uint()) }

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
	zone := r.b[0]
	r.b = r.b[1:]
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
	return time.Unix(0, r.int()).In(loc)
}

func (r *snapReader) timePtr() *time.Time {
	if !r.bool() {
		return nil
	}
	t := r.time()
	return &t
}
