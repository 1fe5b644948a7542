package engine

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// A snapshot is the live engine's state written to the store beside its
// checkpoint: every deal it holds with its tasks, what the rules and the
// robots keep of it, and their timers (the deals' deadlines, the missed
// calls' callback limits, the robots' delayed and scheduled firings),
// each in its place among ties. A restart reads it and the log after
// it, instead of the whole log: the timers are kept in the store and
// survive a restart as they were.
//
// It is written straight from the engine's structures, field by field,
// in a compact binary layout (snapcodec.go): a pointer from one
// structure to another becomes the deal's id (every deal's monitor and
// robot state is held by its aggregate), a rule or a robot of the
// regulations its place in the file. It is read only by an engine of
// the same layout (snapshotFormat) and the same regulations
// (RegulationsDigest); any other, and the engine reads the whole log, as
// it did before there were snapshots. A damaged one is refused, never
// half read.

// snapshotFormat names the layout of the records below; change it with
// them.
const snapshotFormat = "engine/3"

// RegulationsDigest fingerprints the regulations as parsed: a snapshot
// taken under other regulations is not used.
func RegulationsDigest(regs *regulations.Regulations) (string, error) {
	b, err := json.Marshal(regs)
	if err != nil {
		return "", fmt.Errorf("regulations digest: %w", err)
	}
	sum := sha256.Sum256(append(b, regs.Timezone...))
	return hex.EncodeToString(sum[:16]), nil
}

// snapMagic begins every snapshot.
const snapMagic = "funnelwatch engine snapshot\n"

// errNotAtRest: a snapshot is taken between instants, with every change
// evaluated and collected.
var errNotAtRest = errors.New("engine snapshot: the engine has work in hand")

// snapshot encodes the engine's state. What waits in l.out is written in
// the transaction that stores the snapshot, with the checkpoint at the
// same seq.
func (l *Live) snapshot() ([]byte, error) {
	r := l.r
	m, a := r.monitor, r.auto
	if len(r.touched) > 0 || len(m.changed) > 0 || len(m.noticed) > 0 || len(a.collected) > 0 {
		return nil, errNotAtRest
	}
	// Made as big as the last one and an eighth at once (the first, at
	// 512 bytes a deal held): grown by doubling, a snapshot of a million
	// deals left a gigabyte of copies behind it.
	size := l.snapSize + l.snapSize/8
	if size == 0 {
		size = 512 * (len(r.aggs) + len(r.fz.recs))
	}
	buf := make([]byte, 0, size+4096)
	e := &snapEncoder{r: r, w: snapWriter{b: buf, home: l.Regs.Location, dict: &r.dict}, vs: map[*Violation]bool{},
		rules: ruleIndex(l.Regs)}
	w := &e.w
	w.b = append(w.b, snapMagic...)
	w.int(l.seq)
	w.time(l.clock)
	w.bool(l.cron)
	w.time(l.ObserveUntil)
	w.time(r.instant)
	w.int(r.seq)
	e.set(r.echo)
	e.set(r.seen)
	e.rates()
	// The names the frozen records use; a live deal's name not among
	// them is written out (the writer does not grow it).
	w.uint(uint64(len(r.dict.list)))
	for _, name := range r.dict.list {
		w.str(name)
	}
	ids := make([]string, 0, len(r.aggs)+len(r.fz.recs))
	ids = slices.AppendSeq(ids, maps.Keys(r.aggs))
	ids = slices.AppendSeq(ids, maps.Keys(r.fz.recs))
	slices.Sort(ids)
	w.uint(uint64(len(ids)))
	for _, id := range ids {
		if rec, ok := r.fz.recs[id]; ok {
			w.b = append(w.b, rec...) // what e.deal wrote when it froze
			continue
		}
		if err := e.deal(id, r.aggs[id]); err != nil {
			return nil, err
		}
	}
	w.restart() // a frozen record, appended as it is, left the chain elsewhere
	if err := e.monitor(); err != nil {
		return nil, err
	}
	if err := e.automator(); err != nil {
		return nil, err
	}
	return w.b, nil
}

type snapEncoder struct {
	r     *replay
	cur   string // the id of the deal whose record is being written
	w     snapWriter
	vs    map[*Violation]bool // written: each finding is held in one place
	rules map[*regulations.QualityRule]int
}

func (e *snapEncoder) set(m map[string]bool) {
	keys := slices.Sorted(maps.Keys(m))
	e.w.uint(uint64(len(keys)))
	for _, k := range keys {
		e.w.str(k)
		e.w.bool(m[k])
	}
}

// rates writes the win rates: the pipelines' and each scope's (the scopes
// are worked out again from the regulations when read).
func (e *snapEncoder) rates() {
	m, w := e.r.monitor, &e.w
	ps := slices.Sorted(maps.Keys(m.rates.pipelines))
	w.uint(uint64(len(ps)))
	for _, p := range ps {
		pr := m.rates.pipelines[p]
		w.str(p)
		w.int(int64(pr.won))
		w.int(int64(pr.closed))
	}
	places := slices.SortedFunc(maps.Keys(m.scopes), func(x, y place) int {
		return cmp.Or(cmp.Compare(x.pipeline, y.pipeline), cmp.Compare(x.stage, y.stage))
	})
	w.uint(uint64(len(places)))
	for _, k := range places {
		sc := m.scopes[k]
		w.str(k.pipeline)
		w.str(k.stage)
		w.int(int64(sc.rate.won))
		w.int(int64(sc.rate.closed))
	}
}

func (e *snapEncoder) deal(id string, a *Aggregate) error {
	w := &e.w
	w.restart()
	e.cur = id
	w.str(id)
	w.uint(uint64(a.rev))
	w.bool(a.Deal != nil)
	if d := a.Deal; d != nil {
		w.strAs(d.ID, id)
		w.name(d.Pipeline)
		w.name(d.Stage)
		w.name(string(d.Status))
		w.str(d.Name)
		w.name(d.Responsible)
		w.str(d.ContactID)
		w.float(d.Amount)
		w.name(d.Source)
		var fields []byte
		if d.Fields != nil {
			var err error
			if fields, err = json.Marshal(d.Fields); err != nil {
				return fmt.Errorf("engine snapshot: deal %s: fields: %w", id, err)
			}
		}
		w.bytes(fields)
		w.str(d.LossReason)
		w.time(d.CreatedAt)
		w.time(d.UpdatedAt)
		w.time(d.StageEnteredAt)
		w.time(d.PipelineEnteredAt)
		w.timePtr(d.ClosedAt)
		w.timePtr(d.DeletedAt)
		w.time(d.LastEventAt)
	}
	w.uint(uint64(len(a.Tasks)))
	for _, t := range a.Tasks {
		e.task(t)
	}
	w.bool(a.mon != nil)
	if a.mon != nil {
		if a.mon.id != id {
			return fmt.Errorf("engine snapshot: deal %s holds the rules' state of %s", id, a.mon.id)
		}
		if err := e.mon(a, a.mon); err != nil {
			return err
		}
	}
	w.bool(a.auto != nil)
	if a.auto != nil {
		if a.auto.id != id {
			return fmt.Errorf("engine snapshot: deal %s holds the robots' state of %s", id, a.auto.id)
		}
		e.auto(a, a.auto)
	}
	return nil
}

func (e *snapEncoder) task(t *funnelwatch.Task) {
	w := &e.w
	w.str(t.ID)
	w.strAs(t.DealID, e.cur)
	w.name(t.Assignee)
	w.name(t.Kind)
	w.str(t.Text)
	w.timePtr(t.Due)
	w.time(t.CreatedAt)
	w.name(t.CreatedBy)
	w.timePtr(t.CompletedAt)
	w.str(t.Result)
	w.bool(t.Deleted)
	w.int(int64(t.Reschedules))
}

func (e *snapEncoder) rule(r *regulations.QualityRule) error {
	i, ok := e.rules[r]
	if !ok {
		return errors.New("engine snapshot: a rule not in the regulations")
	}
	e.w.uint(uint64(i))
	return nil
}

// mon writes what the rules keep of the deal a holds.
func (e *snapEncoder) mon(a *Aggregate, ds *dealMon) error {
	w := &e.w
	w.bool(ds.lastAgg != nil && ds.lastAgg == a)
	w.uint(uint64(ds.lastRev))
	w.bool(ds.sc != nil)
	if ds.sc != nil {
		w.name(ds.sc.pipeline)
		w.name(ds.sc.stage)
	}
	w.bool(ds.conds != nil)
	open := ds.openList()
	w.uint(uint64(len(open)))
	for _, o := range open {
		if err := e.rule(o.rule); err != nil {
			return err
		}
		w.str(o.sub)
		w.uint(o.held)
		switch {
		case o.t == nil:
			w.uint(0)
		case a.Tasks.Get(o.t.ID) == o.t:
			w.uint(1) // the deal's task of that id
			w.str(o.t.ID)
		default:
			w.uint(2) // a version of it the deal no longer holds
			e.task(o.t)
		}
		if err := e.violation(o.v); err != nil {
			return err
		}
	}
	since := ds.sinceList()
	w.uint(uint64(len(since)))
	for _, x := range since {
		if err := e.rule(x.rule); err != nil {
			return err
		}
		w.str(x.sub)
		w.time(x.since)
		w.uint(x.held)
	}
	w.uint(uint64(len(ds.due)))
	for _, c := range ds.due {
		w.time(c.at)
		w.uint(c.seq)
	}
	act := &ds.act
	w.bool(act.responded)
	w.bool(act.called)
	w.bool(act.supervised)
	w.bool(act.more != nil)
	if x := act.more; x != nil {
		e.calls(x.awaitComment)
		e.calls(x.awaitUpdate)
		w.uint(uint64(len(x.reschedules)))
		for _, c := range x.reschedules {
			w.str(c.task)
			w.int(int64(c.n))
		}
		w.time(x.bigSince)
	}
	w.uint(uint64(len(ds.visited)))
	for _, sc := range ds.visited {
		w.name(sc.pipeline)
		w.name(sc.stage)
	}
	return nil
}

func (e *snapEncoder) calls(cs []pendingCall) {
	e.w.uint(uint64(len(cs)))
	for _, c := range cs {
		e.w.str(c.id)
		e.w.time(c.at)
	}
}

// violation writes an open finding, where it is held.
func (e *snapEncoder) violation(v *Violation) error {
	if e.vs[v] {
		return errors.New("engine snapshot: a finding held in two places")
	}
	e.vs[v] = true
	w := &e.w
	w.str(v.Rule)
	w.str(string(v.Severity))
	w.str(v.DealID)
	w.str(v.TaskID)
	w.str(v.CallID)
	w.str(v.User)
	w.str(v.Pipeline)
	w.str(v.Stage)
	w.time(v.OpenedAt)
	w.timePtr(v.ResolvedAt)
	w.str(v.Text.Message.RU)
	w.str(v.Text.Message.EN)
	w.str(v.Text.Recommendation.RU)
	w.str(v.Text.Recommendation.EN)
	w.str(v.Metric)
	w.float(v.Amount)
	w.float(v.WinRate)
	w.uint(uint64(v.kind))
	switch {
	case v.Evidence.st != nil:
		x := v.Evidence.st
		w.uint(1)
		w.time(x.since)
		w.time(x.created)
		w.time(x.due)
		w.time(x.mark)
		w.str(x.task)
		w.str(x.text)
		w.str(x.assignee)
		w.int(int64(x.grace))
		w.int(int64(x.reschedules))
		w.uint(uint64(x.has))
		w.uint(uint64(x.rule))
	case v.Evidence.kv != nil:
		b, err := json.Marshal(v.Evidence.kv)
		if err != nil {
			return fmt.Errorf("engine snapshot: evidence: %w", err)
		}
		w.uint(2)
		w.bytes(b)
	default:
		w.uint(0)
	}
	return nil
}

func (e *snapEncoder) monitor() error {
	m, w := e.r.monitor, &e.w
	keys := slices.Sorted(maps.Keys(m.open))
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.uint(uint64(len(m.open[k])))
		for _, v := range m.open[k] {
			if err := e.violation(v); err != nil {
				return err
			}
		}
	}
	w.int(int64(m.stateOpen))
	w.uint(m.timers.seq)
	w.uint(uint64(len(m.timers.items)))
	for _, it := range m.timers.items {
		w.time(it.at)
		w.uint(it.seq)
		switch c := it.v; {
		case c.deal != "":
			if !e.r.holds(c.deal) {
				return fmt.Errorf("engine snapshot: a check of deal %s, which it does not hold", c.deal)
			}
			w.uint(1)
			w.str(c.deal)
		case c.phone != nil:
			w.uint(2)
			w.str(*c.phone)
		default:
			w.uint(0)
		}
	}
	checks := slices.SortedFunc(maps.Keys(m.checks), func(x, y timer) int {
		return cmp.Or(x.at.Compare(y.at), cmp.Compare(x.phone, y.phone), cmp.Compare(x.kind, y.kind))
	})
	w.uint(uint64(len(checks)))
	for _, t := range checks {
		w.time(t.at)
		w.str(t.phone)
		w.str(t.kind)
		w.bool(m.checks[t])
	}
	w.int(int64(m.dues))
	w.int(int64(m.queued))
	phones := slices.Sorted(maps.Keys(m.missed))
	w.uint(uint64(len(phones)))
	for _, p := range phones {
		w.str(p)
		w.uint(uint64(len(m.missed[p])))
		for _, c := range m.missed[p] {
			w.str(c.id)
			w.str(c.deal)
			w.str(c.user)
			w.time(c.started)
			w.time(c.deadline)
		}
	}
	users := slices.Sorted(maps.Keys(m.closings))
	w.uint(uint64(len(users)))
	for _, u := range users {
		w.str(u)
		w.uint(uint64(len(m.closings[u])))
		for _, c := range m.closings[u] {
			w.str(c.deal)
			w.time(c.at)
		}
	}
	w.uint(uint64(len(m.calls)))
	for _, c := range m.calls {
		w.str(c.user)
		w.time(c.at)
		w.float(c.dur)
	}
	w.uint(uint64(len(m.wins)))
	for _, x := range m.wins {
		w.str(x.user)
		w.time(x.at)
		w.float(x.cycleDays)
		w.float(x.amount)
	}
	w.bool(m.anomalyStarted)
	w.uint(m.epoch)
	late := slices.Sorted(maps.Keys(m.late))
	w.uint(uint64(len(late)))
	for _, d := range late {
		w.str(d)
		w.time(m.late[d])
	}
	return nil
}

// auto writes what the robots keep of the deal a holds.
func (e *snapEncoder) auto(a *Aggregate, da *dealAuto) {
	w := &e.w
	w.bool(da.agg != nil && da.agg == a)
	w.uint(uint64(da.rev))
	w.bool(da.all)
	w.uint(uint64(len(da.tasks)))
	for _, t := range da.tasks {
		w.str(t)
	}
	w.uint(uint64(len(da.insts)))
	for _, x := range da.insts {
		w.str(x.task)
		w.int(x.mark)
		w.int(int64(x.idx))
		w.bool(x.queued)
		w.bool(x.done)
		w.bool(x.armed)
		w.time(x.at)
		w.uint(x.seq)
	}
}

// dealAutoRef writes the deal whose robot state da is.
func (e *snapEncoder) dealAutoRef(da *dealAuto) error {
	if a := e.r.aggs[da.id]; a == nil || a.auto != da {
		return fmt.Errorf("engine snapshot: a firing of deal %s, whose state no deal holds", da.id)
	}
	e.w.str(da.id)
	return nil
}

func (e *snapEncoder) intMap(m map[string]int) {
	keys := slices.Sorted(maps.Keys(m))
	e.w.uint(uint64(len(keys)))
	for _, k := range keys {
		e.w.str(k)
		e.w.int(int64(m[k]))
	}
}

func (e *snapEncoder) automator() error {
	a, w := e.r.auto, &e.w
	w.uint(a.queue.seq)
	w.uint(uint64(len(a.queue.items)))
	firings := map[*firing]bool{}
	for _, it := range a.queue.items {
		w.time(it.at)
		w.uint(it.seq)
		w.bool(it.v.deal != "")
		if it.v.deal != "" {
			if !e.r.holds(it.v.deal) {
				return fmt.Errorf("engine snapshot: a deadline of deal %s, which it does not hold", it.v.deal)
			}
			w.str(it.v.deal)
		}
		f := it.v.f
		w.bool(f != nil)
		if f == nil {
			continue
		}
		if firings[f] {
			return errors.New("engine snapshot: a firing queued twice")
		}
		firings[f] = true
		i := a.index(f.auto)
		if i < 0 {
			return errors.New("engine snapshot: a firing of a robot not in the regulations")
		}
		w.uint(uint64(i))
		w.str(f.deal)
		w.bool(f.da != nil)
		if f.da != nil {
			if err := e.dealAutoRef(f.da); err != nil {
				return err
			}
		}
		w.str(f.task)
		w.time(f.mark)
		w.bool(f.by != nil)
		if f.by != nil {
			w.str(f.by.cause)
			w.str(f.by.value)
		}
	}
	w.int(int64(a.dues))
	w.int(int64(a.armed))
	e.intMap(a.rr)
	phones := slices.Sorted(maps.Keys(a.callOut))
	w.uint(uint64(len(phones)))
	for _, p := range phones {
		w.str(p)
		w.time(a.callOut[p])
	}
	e.intMap(a.openBy)
	return nil
}

// restore makes the engine's state the snapshot's. It is called on a
// fresh replay (start); on error the caller makes the replay again.
func (l *Live) restore(data []byte) error {
	rest, ok := bytes.CutPrefix(data, []byte(snapMagic))
	if !ok {
		return errors.New("engine snapshot: not a snapshot")
	}
	d := &snapDecoder{r: l.r, in: snapReader{b: rest, home: l.Regs.Location, zones: map[int]*time.Location{},
		dict: &l.r.dict, names: &l.r.names}, regs: l.Regs}
	in := &d.in
	seq, clock, cron, observe := in.int(), in.time(), in.bool(), in.time()
	if in.err == nil && !observe.Equal(l.ObserveUntil) {
		return errors.New("engine snapshot: taken with another end of the recorded history")
	}
	r := d.r
	r.instant, r.seq = in.time(), in.int()
	d.set(r.echo)
	d.set(r.seen)
	d.rates()
	r.dict = nameDict{}
	for k := in.count(); k > 0 && in.err == nil; k-- {
		name := r.names.of(in.str())
		if r.dict.idx == nil {
			r.dict.idx = map[string]uint64{}
		}
		r.dict.idx[name] = uint64(len(r.dict.list))
		r.dict.list = append(r.dict.list, name)
	}
	n := in.count()
	freeze := r.fz.every >= 0
	if freeze {
		// A deal that can be frozen keeps the bytes it was read from
		// (what freeze would write again): the resumed engine never
		// holds every deal live at once.
		d.ids = map[string]string{}
		if r.fz.recs == nil {
			r.fz.recs = map[string][]byte{}
		}
	} else if len(r.aggs) == 0 {
		// Made at its size, not grown from empty by doubling.
		r.aggs = make(map[string]*Aggregate, n)
	}
	for ; n > 0 && in.err == nil; n-- {
		start := in.b
		id := d.deal()
		if a := r.aggs[id]; freeze && in.err == nil && r.inert(id, a) {
			r.fz.recs[id] = bytes.Clone(start[:len(start)-len(in.b)])
			d.ids[id] = id
			delete(r.aggs, id)
		}
	}
	in.restart()
	d.monitor()
	d.automator()
	// What inert could not see yet: the deals with a callback open or a
	// late event being evaluated are live.
	for id := range r.monitor.open {
		r.deal(id)
	}
	for id := range r.monitor.late {
		r.deal(id)
	}
	d.ids = nil
	if in.err == nil && len(in.b) > 0 {
		in.fail(fmt.Errorf("engine snapshot: %d bytes past its end", len(in.b)))
	}
	if in.err != nil {
		return in.err
	}
	l.seq, l.clock, l.cron = seq, clock, cron
	l.snapSize = len(data)
	return nil
}

type snapDecoder struct {
	r    *replay
	in   snapReader
	regs *regulations.Regulations
	cur  string // the id of the deal whose record is being read
	// ids: the deals a restore left frozen, by their id (the copy their
	// checks and deadlines share).
	ids map[string]string
}

func (d *snapDecoder) set(m map[string]bool) {
	for n := d.in.count(); n > 0 && d.in.err == nil; n-- {
		k := d.in.str()
		m[k] = d.in.bool()
	}
}

func (d *snapDecoder) rates() {
	m, in := d.r.monitor, &d.in
	for n := in.count(); n > 0 && in.err == nil; n-- {
		pr := m.rates.pipeline(in.str())
		pr.won, pr.closed = int(in.int()), int(in.int())
	}
	for n := in.count(); n > 0 && in.err == nil; n-- {
		sc := m.scopeOf(in.str(), in.str())
		sc.rate.won, sc.rate.closed = int(in.int()), int(in.int())
	}
}

func (d *snapDecoder) deal() string {
	a := newUntracked()
	id := d.dealInto(a)
	if d.in.err == nil {
		d.r.aggs[id] = a
	}
	return id
}

// dealInto reads a deal's record into a, a new aggregate or a frozen
// one, and returns the deal's id.
func (d *snapDecoder) dealInto(a *Aggregate) string {
	in := &d.in
	in.restart()
	id := in.str()
	d.cur = id
	a.rev = uint32(in.uint())
	if in.bool() {
		dl := &funnelwatch.Deal{ID: in.strAs(id), Pipeline: in.name(), Stage: in.name(),
			Status: funnelwatch.DealStatus(in.name()), Name: in.str(), Responsible: in.name(),
			ContactID: in.str(), Amount: in.float(), Source: in.name()}
		if fields := in.raw(); len(fields) > 0 && in.err == nil {
			if err := json.Unmarshal(fields, &dl.Fields); err != nil {
				in.fail(fmt.Errorf("engine snapshot: deal %s: fields: %w", id, err))
			}
		}
		dl.LossReason = in.str()
		dl.CreatedAt, dl.UpdatedAt, dl.StageEnteredAt, dl.PipelineEnteredAt = in.time(), in.time(), in.time(), in.time()
		dl.ClosedAt, dl.DeletedAt, dl.LastEventAt = in.timePtr(), in.timePtr(), in.time()
		a.Deal = dl
	}
	if n := in.count(); n > 0 {
		a.Tasks = make(Tasks, n)
		for i := range a.Tasks {
			a.Tasks[i] = d.task()
		}
	}
	if in.err != nil {
		return id
	}
	if in.bool() {
		a.mon = d.mon(a, id)
	}
	if in.bool() {
		a.auto = d.auto(a, id)
	}
	return id
}

func (d *snapDecoder) task() *funnelwatch.Task {
	in := &d.in
	t := &funnelwatch.Task{ID: in.str(), DealID: in.strAs(d.cur), Assignee: in.name(), Kind: in.name(),
		Text: in.str(), Due: in.timePtr(), CreatedAt: in.time(), CreatedBy: in.name(),
		CompletedAt: in.timePtr(), Result: in.str(), Deleted: in.bool(), Reschedules: int(in.int())}
	return t
}

func (d *snapDecoder) rule() *regulations.QualityRule {
	i := d.in.uint()
	if i >= uint64(len(d.regs.Quality)) {
		d.in.fail(fmt.Errorf("engine snapshot: rule %d is not in the regulations", i))
		return nil
	}
	return &d.regs.Quality[i]
}

func (d *snapDecoder) mon(a *Aggregate, id string) *dealMon {
	m, in := d.r.monitor, &d.in
	ds := &dealMon{m: m, id: id}
	if in.bool() {
		ds.lastAgg = a
	}
	ds.lastRev = uint32(in.uint())
	if in.bool() {
		ds.sc = m.scopeOf(in.name(), in.name())
	}
	if in.bool() {
		ds.conds = &dealConds{}
	}
	if n := in.count(); n > 0 {
		c := ds.condsOf()
		for ; n > 0 && in.err == nil; n-- {
			o := openEntry{rule: d.rule(), sub: in.str(), held: in.uint()}
			switch in.uint() {
			case 0:
			case 1:
				tid := in.str()
				if o.t = a.Tasks.Get(tid); o.t == nil {
					in.fail(fmt.Errorf("engine snapshot: deal %s has no task %q", id, tid))
				}
			case 2:
				o.t = d.task()
			default:
				in.fail(errSnapShort)
			}
			o.v = d.violation()
			c.open = append(c.open, o)
		}
	}
	if n := in.count(); n > 0 {
		c := ds.condsOf()
		for ; n > 0 && in.err == nil; n-- {
			c.since = append(c.since, sinceEntry{rule: d.rule(), sub: in.str(), since: in.time(), held: in.uint()})
		}
	}
	if n := in.count(); n > 0 {
		ds.due = make([]dueCheck, n, max(n, 3))
		for i := range ds.due {
			ds.due[i] = dueCheck{at: in.time(), seq: in.uint()}
		}
	}
	ds.act = activity{responded: in.bool(), called: in.bool(), supervised: in.bool()}
	if in.bool() {
		x := &activityMore{awaitComment: d.calls(), awaitUpdate: d.calls()}
		for n := in.count(); n > 0 && in.err == nil; n-- {
			x.reschedules = append(x.reschedules, taskCount{in.str(), int(in.int())})
		}
		x.bigSince = in.time()
		ds.act.more = x
	}
	for n := in.count(); n > 0 && in.err == nil; n-- {
		ds.visited = append(ds.visited, m.scopeOf(in.name(), in.name()))
	}
	return ds
}

func (d *snapDecoder) calls() []pendingCall {
	var out []pendingCall
	for n := d.in.count(); n > 0 && d.in.err == nil; n-- {
		out = append(out, pendingCall{d.in.str(), d.in.time()})
	}
	return out
}

func (d *snapDecoder) violation() *Violation {
	in := &d.in
	v := &Violation{Rule: in.str(), Severity: regulations.Severity(in.str()), DealID: in.str(), TaskID: in.str(),
		CallID: in.str(), User: in.str(), Pipeline: in.str(), Stage: in.str(), OpenedAt: in.time()}
	if t := in.timePtr(); t != nil {
		v.resolved = *t
		v.ResolvedAt = &v.resolved
	}
	v.Text.Message.RU, v.Text.Message.EN = in.str(), in.str()
	v.Text.Recommendation.RU, v.Text.Recommendation.EN = in.str(), in.str()
	v.Metric, v.Amount, v.WinRate, v.kind = in.str(), in.float(), in.float(), findKind(in.uint())
	switch in.uint() {
	case 0:
	case 1:
		v.ev = evidence{since: in.time(), created: in.time(), due: in.time(), mark: in.time(),
			task: in.str(), text: in.str(), assignee: in.str(), grace: time.Duration(in.int()),
			reschedules: in.int32(), has: evidenceHas(in.uint()), rule: evidenceRule(in.uint())}
		v.Evidence = Evidence{st: &v.ev}
	case 2:
		var kv map[string]any
		if raw := in.raw(); in.err == nil {
			if err := json.Unmarshal(raw, &kv); err != nil {
				in.fail(fmt.Errorf("engine snapshot: evidence: %w", err))
			}
		}
		v.Evidence = Evidence{kv: kv}
	default:
		in.fail(errSnapShort)
	}
	return v
}

func (d *snapDecoder) auto(a *Aggregate, id string) *dealAuto {
	in := &d.in
	da := &dealAuto{owner: d.r.auto, id: id}
	if in.bool() {
		da.agg = a
	}
	da.rev, da.all = uint32(in.uint()), in.bool()
	for n := in.count(); n > 0 && in.err == nil; n-- {
		da.tasks = append(da.tasks, in.str())
	}
	if n := in.count(); n > 0 {
		da.insts = make([]instance, n)
		for i := range da.insts {
			x := instance{task: in.str(), mark: in.int(), idx: in.int32(), queued: in.bool(), done: in.bool(),
				armed: in.bool(), at: in.time(), seq: in.uint()}
			if x.idx < 0 || int(x.idx) >= len(d.r.auto.autos) {
				in.fail(fmt.Errorf("engine snapshot: robot %d is not in the regulations", x.idx))
			}
			da.insts[i] = x
		}
	}
	return da
}

// monDeal returns the id of the deal named, read before with the rules'
// state a check needs (the deal's own copy of its id).
func (d *snapDecoder) monDeal(id string) string {
	return d.heldDeal(id, "a check", func(a *Aggregate) (string, bool) {
		if a.mon == nil {
			return "", false
		}
		return a.mon.id, true
	})
}

// autoDeal returns the id of the deal named, read before with the
// robots' state a deadline needs.
func (d *snapDecoder) autoDeal(id string) string {
	return d.heldDeal(id, "a firing", func(a *Aggregate) (string, bool) {
		if a.auto == nil {
			return "", false
		}
		return a.auto.id, true
	})
}

// heldDeal returns the id of the deal named, live with the state own
// finds, or frozen by this restore; "" and a failed read when neither.
func (d *snapDecoder) heldDeal(id, what string, own func(*Aggregate) (string, bool)) string {
	if a := d.r.aggs[id]; a != nil {
		if canon, ok := own(a); ok {
			return canon
		}
	}
	if canon, ok := d.ids[id]; ok {
		return canon
	}
	d.in.fail(fmt.Errorf("engine snapshot: %s of deal %s, which it does not hold", what, id))
	return ""
}

// autoOf returns the robots' state of the deal named, read before.
func (d *snapDecoder) autoOf(id string) *dealAuto {
	if a := d.r.deal(id); a != nil && a.auto != nil {
		return a.auto
	}
	d.in.fail(fmt.Errorf("engine snapshot: a firing of deal %s, which it does not hold", id))
	return nil
}

func (d *snapDecoder) monitor() {
	m, in := d.r.monitor, &d.in
	for n := in.count(); n > 0 && in.err == nil; n-- {
		k := in.str()
		for j := in.count(); j > 0 && in.err == nil; j-- {
			m.open[k] = append(m.open[k], d.violation())
		}
	}
	m.stateOpen = int(in.int())
	m.timers.seq = in.uint()
	if n := in.count(); n > 0 {
		m.timers.items = make([]dueItem[check], n)
		for i := range m.timers.items {
			it := dueItem[check]{at: in.time(), seq: in.uint()}
			switch in.uint() {
			case 0:
			case 1:
				it.v.deal = d.monDeal(in.str())
			case 2:
				p := in.str()
				it.v.phone = &p
			default:
				in.fail(errSnapShort)
			}
			m.timers.items[i] = it
		}
	}
	for n := in.count(); n > 0 && in.err == nil; n-- {
		t := timer{at: in.time(), phone: in.str(), kind: in.str()}
		m.checks[t] = in.bool()
	}
	m.dues, m.queued = int(in.int()), int(in.int())
	for n := in.count(); n > 0 && in.err == nil; n-- {
		p := in.str()
		for j := in.count(); j > 0 && in.err == nil; j-- {
			m.missed[p] = append(m.missed[p], &missedCall{id: in.str(), deal: in.str(), user: in.str(),
				started: in.time(), deadline: in.time()})
		}
	}
	for n := in.count(); n > 0 && in.err == nil; n-- {
		if m.closings == nil {
			m.closings = map[string][]closing{}
		}
		u := in.str()
		for j := in.count(); j > 0 && in.err == nil; j-- {
			m.closings[u] = append(m.closings[u], closing{in.str(), in.time()})
		}
	}
	for n := in.count(); n > 0 && in.err == nil; n-- {
		m.calls = append(m.calls, callFact{in.str(), in.time(), in.float()})
	}
	for n := in.count(); n > 0 && in.err == nil; n-- {
		m.wins = append(m.wins, winFact{in.str(), in.time(), in.float(), in.float()})
	}
	m.anomalyStarted, m.epoch = in.bool(), in.uint()
	for n := in.count(); n > 0 && in.err == nil; n-- {
		m.Late(in.str(), in.time())
	}
}

func (d *snapDecoder) intMap(m map[string]int) {
	for n := d.in.count(); n > 0 && d.in.err == nil; n-- {
		k := d.in.str()
		m[k] = int(d.in.int())
	}
}

func (d *snapDecoder) automator() {
	a, in := d.r.auto, &d.in
	a.queue.seq = in.uint()
	if n := in.count(); n > 0 {
		a.queue.items = make([]dueItem[queued], n)
		for i := range a.queue.items {
			it := dueItem[queued]{at: in.time(), seq: in.uint()}
			if in.bool() {
				it.v.deal = d.autoDeal(in.str())
			}
			if in.bool() {
				idx := in.uint()
				if idx >= uint64(len(a.autos)) {
					in.fail(fmt.Errorf("engine snapshot: robot %d is not in the regulations", idx))
					return
				}
				f := &firing{auto: a.autos[idx], deal: in.str()}
				if in.bool() {
					f.da = d.autoOf(in.str())
				}
				f.task, f.mark = in.str(), in.time()
				if in.bool() {
					f.by = &firingCause{cause: in.str(), value: in.str()}
				}
				it.v.f = f
			}
			a.queue.items[i] = it
		}
	}
	a.dues, a.armed = int(in.int()), int(in.int())
	d.intMap(a.rr)
	for n := in.count(); n > 0 && in.err == nil; n-- {
		p := in.str()
		a.callOut[p] = in.time()
	}
	d.intMap(a.openBy)
}
