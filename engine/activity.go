package engine

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// activity is what the activity rules remember of a deal: the first
// response to the lead, the last call, the calls waiting for a comment or
// a change, and when the supervisor last looked at it.
type activity struct {
	responded      time.Time      // first outbound call, note or completed task (zero: none yet)
	lastCall       time.Time      // last call of any direction
	awaitComment   []pendingCall  // answered calls with no note since
	awaitUpdate    []pendingCall  // answered calls with no change to the deal since
	reschedules    map[string]int // task → reschedules since the deal's last call
	supervised     bool           // the responsible's supervisor has touched it
	bigSince       time.Time      // when the amount reached the high-value threshold
	closingsByUser map[string][]closing
}

type pendingCall struct {
	id string
	at time.Time
}

type closing struct {
	deal string
	at   time.Time
}

func (m *Monitor) act(deal string) *activity {
	if m.acts == nil {
		m.acts = map[string]*activity{}
	}
	a := m.acts[deal]
	if a == nil {
		a = &activity{reschedules: map[string]int{}}
		m.acts[deal] = a
	}
	return a
}

// observeActivity records what an event tells the activity rules and
// raises their instant findings (an empty comment, rescheduling without a
// call, mass closing, a loss too fast).
func (m *Monitor) observeActivity(e *funnelwatch.Event, prev *funnelwatch.Deal, agg *Aggregate) {
	if agg == nil || agg.Deal == nil {
		return
	}
	d := agg.Deal
	a := m.act(d.ID)
	supervisor := ""
	if u, ok := m.regs.User(d.Responsible); ok {
		supervisor = u.Supervisor
	}
	if supervisor != "" && e.Actor == supervisor {
		a.supervised = true
	}
	if e.Type != funnelwatch.EventCall {
		a.awaitUpdate = nil // any change to the deal answers a call
	}
	switch e.Type {
	case funnelwatch.EventCall:
		c := e.Call
		a.lastCall = e.At
		clear(a.reschedules)
		if c.Direction == funnelwatch.DirectionOut && a.responded.IsZero() {
			a.responded = e.At
		}
		if c.Answered {
			if r := m.ruleFor(regulations.RuleCallWithoutUpdate, d); r != nil && time.Duration(c.DurationS)*time.Second >= r.MinDuration {
				a.awaitUpdate = append(a.awaitUpdate, pendingCall{c.ID, e.At})
			}
			if r := m.ruleFor(regulations.RuleEmptyComment, d); r != nil && r.Limit > 0 {
				a.awaitComment = append(a.awaitComment, pendingCall{c.ID, e.At})
			}
		}
	case funnelwatch.EventNoteAdded:
		if a.responded.IsZero() && e.Note.Author != "" {
			a.responded = e.At
		}
		if supervisor != "" && e.Note.Author == supervisor {
			a.supervised = true
		}
		if r := m.ruleFor(regulations.RuleEmptyComment, d); r != nil {
			a.awaitComment = nil
			if contentFree(e.Note.Text, r) {
				author := e.Note.Author
				if author == "" {
					author = d.Responsible
				}
				m.flashFor(e.At, r, d, "", author)
			}
		}
	case funnelwatch.EventTaskCompleted:
		if a.responded.IsZero() {
			a.responded = e.At
		}
	case funnelwatch.EventTaskCreated:
		if supervisor != "" && agg.Tasks[e.Task.ID] != nil && agg.Tasks[e.Task.ID].Assignee == supervisor {
			a.supervised = true
		}
	case funnelwatch.EventTaskRescheduled:
		a.reschedules[e.TaskID]++
		if r := m.ruleFor(regulations.RuleRescheduleWithoutCall, d); r != nil && a.reschedules[e.TaskID] >= r.Count {
			a.reschedules[e.TaskID] = 0
			user := d.Responsible
			if t := agg.Tasks[e.TaskID]; t != nil && t.Assignee != "" {
				user = t.Assignee
			}
			m.flashFor(e.At, r, d, e.TaskID, user)
		}
	case funnelwatch.EventDealStageChanged:
		if d.Status == funnelwatch.DealLost && (prev == nil || prev.Status != funnelwatch.DealLost) {
			m.lost(e.At, d, a)
		}
	}
	if r := m.ruleFor(regulations.RuleHighValueUnsupervised, d); r != nil {
		if d.Amount >= r.Amount && a.bigSince.IsZero() {
			a.bigSince = e.At
		}
		if d.Amount < r.Amount {
			a.bigSince = time.Time{}
		}
	}
}

// lost checks a loss: too fast without a contact attempt, and the burst
// of losses of one manager (mass closing).
func (m *Monitor) lost(now time.Time, d *funnelwatch.Deal, a *activity) {
	if r := m.ruleFor(regulations.RuleLostTooFast, d); r != nil {
		if now.Sub(d.CreatedAt) < r.Limit && a.lastCall.IsZero() && a.responded.IsZero() {
			m.flash(now, r, d, "")
		}
	}
	r := m.ruleFor(regulations.RuleMassClosing, d)
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
func junk(v any, r *regulations.QualityRule) bool {
	s, ok := v.(string)
	t := strings.TrimSpace(s)
	return ok && t != "" && hollow(t, r)
}

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

// activityConditions adds the state conditions of the activity rules.
func (m *Monitor) activityConditions(agg *Aggregate, st *funnelwatch.Stage, add func(rule, task, call, user string, threshold time.Time)) {
	d := agg.Deal
	a := m.act(d.ID)
	if r := m.ruleFor(regulations.RuleFirstResponse, d); r != nil && a.responded.IsZero() {
		add(regulations.RuleFirstResponse, "", "", d.Responsible, d.CreatedAt.Add(r.Limit))
	}
	if r := m.ruleFor(regulations.RuleEmptyComment, d); r != nil && r.Limit > 0 {
		for _, c := range a.awaitComment {
			add(regulations.RuleEmptyComment, "", c.id, d.Responsible, c.at.Add(r.Limit))
		}
	}
	if r := m.ruleFor(regulations.RuleCallWithoutUpdate, d); r != nil {
		for _, c := range a.awaitUpdate {
			add(regulations.RuleCallWithoutUpdate, "", c.id, d.Responsible, c.at.Add(r.Limit))
		}
	}
	if r := m.ruleFor(regulations.RuleHighValueUnsupervised, d); r != nil && !a.bigSince.IsZero() && !a.supervised {
		add(regulations.RuleHighValueUnsupervised, "", "", d.Responsible, a.bigSince.Add(r.Limit))
	}
	if r := m.ruleFor(regulations.RuleJunkField, d); r != nil {
		fields := r.Fields
		if len(fields) == 0 && st != nil {
			fields = st.RequiredFields
		}
		for _, f := range fields {
			if junk(fieldValue(d, f), r) {
				add(regulations.RuleJunkField, "", "", d.Responsible, time.Time{})
				break
			}
		}
	}
	for _, r := range m.rules {
		if r.Rule == regulations.RuleExpr && m.ruleFor(r.ID, d) != nil && evalExpr(r.When, d) {
			add(r.ID, "", "", d.Responsible, time.Time{})
		}
	}
}
