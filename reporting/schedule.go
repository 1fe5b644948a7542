package reporting

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/notify"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// Action is the outbox payload of a scheduled report.
type Action struct {
	Report     string    `json:"report"` // the schedule's id
	Period     string    `json:"period"` // last-week, yesterday, …
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Recipients []string  `json:"recipients"` // user ids, chat:ID, email:ADDRESS
}

// catchUp is how late a report may still go out: a server that was down
// at Monday 09:00 sends the weekly report when it comes back that day,
// not a week's worth of missed dailies.
const catchUp = 24 * time.Hour

// Scheduler puts scheduled reports in the outbox when their time comes.
// The action's key is the schedule and the moment it was due, so a report
// is queued once however many processes or restarts see the moment.
type Scheduler struct {
	Store     funnelwatch.Store
	Workspace string
	Regs      *regulations.Regulations
	Now       func() time.Time
	// OnWrite is told when a report was queued (the dispatcher's nudge).
	OnWrite func()
	Logger  *slog.Logger
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Step queues every report whose latest due moment is within the
// catch-up window, and returns how many it queued (a repeat is not
// counted).
func (s *Scheduler) Step(ctx context.Context) (int, error) {
	loc := s.Regs.Location
	if loc == nil {
		loc = time.UTC
	}
	now := s.now().In(loc)
	var actions []*funnelwatch.ActionRecord
	for _, rep := range s.Regs.ScheduledReports() {
		if rep.Schedule == nil || len(rep.To) == 0 {
			continue
		}
		due := latest(rep.Schedule, now)
		if due.IsZero() {
			continue
		}
		_, from, to, err := ParsePeriod(rep.Period, due, loc)
		if err != nil {
			return 0, err
		}
		payload, err := json.Marshal(Action{Report: rep.ID, Period: rep.Period, From: from, To: to,
			Recipients: Recipients(s.Regs, rep.To)})
		if err != nil {
			return 0, err
		}
		actions = append(actions, &funnelwatch.ActionRecord{
			Key:  fmt.Sprintf("report:%s:%s", rep.ID, due.UTC().Format("20060102T1504Z")),
			Type: notify.ActionReport, Rule: rep.ID, At: due, Payload: payload, Status: funnelwatch.ActionPending,
		})
	}
	if len(actions) == 0 {
		return 0, nil
	}
	var queued int
	err := s.Store.Update(ctx, s.Workspace, func(tx funnelwatch.Tx) error {
		isNew, err := tx.InsertActions(ctx, actions...)
		for _, n := range isNew {
			if n {
				queued++
			}
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if queued > 0 && s.OnWrite != nil {
		s.OnWrite()
	}
	return queued, nil
}

// latest is the schedule's last moment at or before now, within the
// catch-up window; zero when there is none.
func latest(c *regulations.Cron, now time.Time) time.Time {
	var last time.Time
	for t := c.Next(now.Add(-catchUp)); !t.IsZero() && !t.After(now); t = c.Next(t) {
		last = t
	}
	return last
}

// Run queues reports until ctx ends, checking every minute.
func (s *Scheduler) Run(ctx context.Context, onError func(error)) {
	for {
		if _, err := s.Step(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		t := time.NewTimer(time.Minute)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Recipients resolves a report's recipients: user:ID as it is, role:NAME
// to every user of the role (a report is for all of them, unlike a task),
// chat: and email: as written.
func Recipients(regs *regulations.Regulations, to []regulations.Recipient) []string {
	var out []string
	add := func(s string) {
		for _, x := range out {
			if x == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, r := range to {
		switch r.Kind {
		case regulations.AssignUser:
			add(r.Value)
		case regulations.AssignRole:
			for _, u := range regs.Users {
				if string(u.Role) == r.Value || u.SalesRole == r.Value {
					add(u.ID)
				}
			}
		case regulations.AssignChat, regulations.AssignEmail:
			add(r.String())
		}
	}
	return out
}

// Render is the notify.Notifier's Report: it builds the report an action
// names from the store as it is now and renders it.
func Render(store funnelwatch.Store, workspace string, regs *regulations.Regulations, baseURL string,
	now func() time.Time) func(ctx context.Context, a *funnelwatch.ActionRecord) (notify.Message, error) {
	return func(ctx context.Context, a *funnelwatch.ActionRecord) (notify.Message, error) {
		var act Action
		if err := json.Unmarshal(a.Payload, &act); err != nil {
			return notify.Message{}, fmt.Errorf("report action %s: %w", a.Key, err)
		}
		var r *Report
		err := store.View(ctx, workspace, func(tx funnelwatch.ReadTx) error {
			var err error
			r, err = Build(ctx, tx, regs, periodKind(act.Period), act.From, act.To, now())
			return err
		})
		if err != nil {
			return notify.Message{}, err
		}
		return r.Message(baseURL)
	}
}

// periodKind is how a named period reads in a report's heading.
func periodKind(period string) string {
	switch period {
	case "last-week", "this-week":
		return "week"
	case "yesterday", "today":
		return "day"
	}
	return "period"
}
