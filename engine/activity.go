package engine

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// activity is what the activity rules remember of a deal: whether the
// lead got a response and a call, the calls waiting for a comment or a
// change, and whether the supervisor looked at it.
type activity struct {
	responded  bool // an outbound call, a note or a completed task (only whether: no rule reads when)
	called     bool // a call of any direction
	supervised bool // the responsible's supervisor has touched it
	// The rest, which most deals never need, apart (nil until then): an
	// open deal costs memory for as long as it stays open.
	more *activityMore
}

type activityMore struct {
	awaitComment []pendingCall // answered calls with no note since
	awaitUpdate  []pendingCall // answered calls with no change to the deal since
	reschedules  []taskCount   // reschedules since the deal's last call, by task
	bigSince     time.Time     // when the amount reached the high-value threshold
}

// x returns the rest of the activity, made the first time.
func (a *activity) x() *activityMore {
	if a.more == nil {
		a.more = &activityMore{}
	}
	return a.more
}

// bigSince is when the amount reached the high-value threshold (zero:
// it is below).
func (a *activity) bigSince() time.Time {
	if a.more == nil {
		return time.Time{}
	}
	return a.more.bigSince
}

type pendingCall struct {
	id string
	at time.Time
}

type taskCount struct {
	task string
	n    int
}

type closing struct {
	deal string
	at   time.Time
}

// rescheduled counts a reschedule of the task and returns the count.
func (a *activityMore) rescheduled(task string) *int {
	for i := range a.reschedules {
		if a.reschedules[i].task == task {
			a.reschedules[i].n++
			return &a.reschedules[i].n
		}
	}
	a.reschedules = append(a.reschedules, taskCount{task, 1})
	return &a.reschedules[len(a.reschedules)-1].n
}

// observeActivity records what an event tells the activity rules and
// raises their instant findings (an empty comment, rescheduling without a
// call, mass closing, a loss too fast).
func (m *Monitor) observeActivity(e *funnelwatch.Event, prev *funnelwatch.Deal, agg *Aggregate, ds *dealMon, sc *scope) {
	d := agg.Deal
	a := &ds.act
	supervisor := ""
	if !a.supervised { // what follows only ever sets it
		supervisor = m.supervisor[d.Responsible]
	}
	if supervisor != "" && e.Actor == supervisor {
		a.supervised = true
	}
	if e.Type != funnelwatch.EventCall && a.more != nil {
		a.more.awaitUpdate = nil // any change to the deal answers a call
	}
	switch e.Type {
	case funnelwatch.EventCall:
		c := e.Call
		// A zero time would read as "never" (the rules looked at the
		// times when they were kept): keep that.
		a.called = !e.At.IsZero()
		if a.more != nil {
			a.more.reschedules = nil
		}
		if c.Direction == funnelwatch.DirectionOut && !a.responded {
			a.responded = !e.At.IsZero()
		}
		if c.Answered {
			if r := sc.rule[kCallWithoutUpdate]; r != nil && time.Duration(c.DurationS)*time.Second >= r.MinDuration {
				a.x().awaitUpdate = append(a.x().awaitUpdate, pendingCall{c.ID, e.At})
			}
			if r := sc.rule[kEmptyComment]; r != nil && r.Limit > 0 {
				a.x().awaitComment = append(a.x().awaitComment, pendingCall{c.ID, e.At})
			}
		}
	case funnelwatch.EventNoteAdded:
		if !a.responded && e.Note.Author != "" {
			a.responded = !e.At.IsZero()
		}
		if supervisor != "" && e.Note.Author == supervisor {
			a.supervised = true
		}
		if r := sc.rule[kEmptyComment]; r != nil {
			if a.more != nil {
				a.more.awaitComment = nil
			}
			if contentFree(e.Note.Text, r) {
				author := e.Note.Author
				if author == "" {
					author = d.Responsible
				}
				m.flashFor(e.At, r, d, "", author)
			}
		}
	case funnelwatch.EventTaskCompleted:
		if !a.responded {
			a.responded = !e.At.IsZero()
		}
	case funnelwatch.EventTaskCreated:
		if supervisor != "" && agg.Tasks.Get(e.Task.ID) != nil && agg.Tasks.Get(e.Task.ID).Assignee == supervisor {
			a.supervised = true
		}
	case funnelwatch.EventTaskRescheduled:
		n := a.x().rescheduled(e.TaskID)
		if r := sc.rule[kReschedule]; r != nil && *n >= r.Count {
			*n = 0
			user := d.Responsible
			if t := agg.Tasks.Get(e.TaskID); t != nil && t.Assignee != "" {
				user = t.Assignee
			}
			m.flashFor(e.At, r, d, e.TaskID, user)
		}
	case funnelwatch.EventDealStageChanged:
		if d.Status == funnelwatch.DealLost && (prev == nil || prev.Status != funnelwatch.DealLost) {
			m.lost(e.At, d, a, sc)
		}
	}
	if r := sc.rule[kHighValue]; r != nil {
		if d.Amount >= r.Amount && a.bigSince().IsZero() {
			a.x().bigSince = e.At
		}
		if d.Amount < r.Amount && a.more != nil {
			a.more.bigSince = time.Time{}
		}
	}
}

// lost checks a loss: too fast without a contact attempt, and the burst
// of losses of one manager (mass closing).
func (m *Monitor) lost(now time.Time, d *funnelwatch.Deal, a *activity, sc *scope) {
	if r := sc.rule[kLostTooFast]; r != nil {
		if now.Sub(d.CreatedAt) < r.Limit && !a.called && !a.responded {
			m.flash(now, r, d, "")
		}
	}
	r := sc.rule[kMassClosing]
	if r == nil || d.Responsible == "" {
		return
	}
	if m.closings == nil {
		m.closings = map[string][]closing{}
	}
	window := r.Window
	if window == 0 {
		window = time.Hour
	}
	burst := append(m.closings[d.Responsible], closing{d.ID, now})
	for len(burst) > 0 && now.Sub(burst[0].at) >= window {
		burst = burst[1:]
	}
	if len(burst) >= r.Count {
		// One finding per burst, on the deal that made it a burst.
		m.flash(now, r, d, "")
		burst = nil
	}
	m.closings[d.Responsible] = burst
}

// contentFree reports whether a comment says nothing: shorter than the
// rule's minimum or matching one of its patterns («Связался»).
func contentFree(text string, r *regulations.QualityRule) bool {
	return hollow(strings.TrimSpace(text), r)
}

// junk reports whether a field value was typed only to get past a
// required field; an empty value is the required_fields rule's business.
// Every evaluation of a deal asks again of the same values, and the
// rule's patterns were a fifth of a replay's time: the answers are kept
// (a bounded memo, emptied when full).
func (m *Monitor) junk(v any, r *regulations.QualityRule) bool {
	s, ok := v.(string)
	if !ok || s == "" {
		return false
	}
	k := junkKey{r, s}
	if j, ok := m.junkMemo[k]; ok {
		return j
	}
	t := strings.TrimSpace(s)
	j := t != "" && hollow(t, r)
	if m.junkMemo == nil || len(m.junkMemo) >= junkMemoSize {
		m.junkMemo = make(map[junkKey]bool, junkMemoSize)
	}
	m.junkMemo[k] = j
	return j
}

// junkKey is a junk rule and a field value it was asked about.
type junkKey struct {
	r *regulations.QualityRule
	v string
}

// junkMemoSize bounds the junk rule's memo: a few MiB at most.
const junkMemoSize = 1 << 14

// hollow reports whether a text is shorter than the rule's minimum length
// or matches one of its patterns.
func hollow(t string, r *regulations.QualityRule) bool {
	if utf8.RuneCountInString(t) < r.MinLength {
		return true
	}
	for _, re := range r.Regexps {
		if re.MatchString(t) {
			return true
		}
	}
	return false
}

// activityConditions takes the state conditions of the activity rules.
func (m *Monitor) activityConditions(x *evaluation, sc *scope) {
	d := x.a.Deal
	a := &x.ds.act
	if r := sc.rule[kFirstResponse]; r != nil && !a.responded {
		m.cond(x, r, nil, "", d.Responsible, d.CreatedAt.Add(r.Limit))
	}
	var more activityMore
	if a.more != nil {
		more = *a.more
	}
	if r := sc.rule[kEmptyComment]; r != nil && r.Limit > 0 {
		for _, c := range more.awaitComment {
			m.cond(x, r, nil, c.id, d.Responsible, c.at.Add(r.Limit))
		}
	}
	if r := sc.rule[kCallWithoutUpdate]; r != nil {
		for _, c := range more.awaitUpdate {
			m.cond(x, r, nil, c.id, d.Responsible, c.at.Add(r.Limit))
		}
	}
	if r := sc.rule[kHighValue]; r != nil && !more.bigSince.IsZero() && !a.supervised {
		m.cond(x, r, nil, "", d.Responsible, more.bigSince.Add(r.Limit))
	}
	if x.due {
		return // what follows holds from now on, or not: nothing falls due
	}
	if r := sc.rule[kJunk]; r != nil {
		for _, f := range sc.junk {
			if m.junk(fieldValue(d, f), r) {
				m.cond(x, r, nil, "", d.Responsible, time.Time{})
				break
			}
		}
	}
	for _, er := range sc.exprs {
		if m.expr.holds(er.when, d) {
			m.cond(x, er.rule, nil, "", d.Responsible, time.Time{})
		}
	}
}
