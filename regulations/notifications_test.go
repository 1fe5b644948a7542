package regulations_test

import (
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch/regulations"
)

func TestParse_Notifications(t *testing.T) {
	r, err := regulations.Parse([]byte(head + `timezone: Europe/Moscow
notifications:
  quiet_hours: "21:00-09:00"
  digest: {over: 5, within: 10m}
`))
	if err != nil {
		t.Fatal(err)
	}
	n := r.Notifications
	if n.QuietHours != (regulations.Hours{From: 21 * 60, To: 9 * 60}) || n.DigestOver != 5 || n.DigestWithin != 10*time.Minute {
		t.Fatalf("notifications %+v", n)
	}
	msk := r.Location
	cases := []struct {
		name  string // the moment, in Moscow time
		at    time.Time
		quiet bool
		until time.Time
	}{
		{"late evening: held until the morning", time.Date(2026, 11, 23, 22, 30, 0, 0, msk), true, time.Date(2026, 11, 24, 9, 0, 0, 0, msk)},
		{"after midnight: held until the same morning", time.Date(2026, 11, 24, 3, 0, 0, 0, msk), true, time.Date(2026, 11, 24, 9, 0, 0, 0, msk)},
		{"the quiet hours start at 21:00", time.Date(2026, 11, 23, 21, 0, 0, 0, msk), true, time.Date(2026, 11, 24, 9, 0, 0, 0, msk)},
		{"at 09:00 they are over", time.Date(2026, 11, 24, 9, 0, 0, 0, msk), false, time.Time{}},
		{"midday", time.Date(2026, 11, 24, 13, 0, 0, 0, msk), false, time.Time{}},
	}
	for _, tc := range cases {
		quiet, until := n.Quiet(tc.at)
		if quiet != tc.quiet || !until.Equal(tc.until) {
			t.Errorf("%s: quiet %v until %s, want %v until %s", tc.name, quiet, until, tc.quiet, tc.until)
		}
	}
	// A window inside one day.
	day := regulations.Notifications{QuietHours: regulations.Hours{From: 13 * 60, To: 14 * 60}}
	if q, u := day.Quiet(time.Date(2026, 11, 24, 13, 30, 0, 0, msk)); !q || !u.Equal(time.Date(2026, 11, 24, 14, 0, 0, 0, msk)) {
		t.Errorf("lunch break: %v until %s", q, u)
	}
}

func TestParse_NotificationsErrors(t *testing.T) {
	errs := parseErrors(t, head+`notifications:
  quiet_hours: "21:00-21:00"
  digest: {over: 0}
  loud: true
`)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Key] = true
	}
	for _, k := range []string{"notifications.quiet_hours", "notifications.digest.within", "notifications.digest.over", "notifications.loud"} {
		if !got[k] {
			t.Errorf("no error for %s; errors: %v", k, errs)
		}
	}
}

func TestParse_Reports(t *testing.T) {
	r, err := regulations.Parse([]byte(head))
	if err != nil {
		t.Fatal(err)
	}
	// No reports: key — the weekly report on Monday at 09:00 to the
	// supervisors.
	def := r.ScheduledReports()
	if len(def) != 1 || def[0].Period != "last-week" || def[0].Cron != "0 9 * * MON" || len(def[0].To) != 1 || def[0].To[0].String() != "user:sergey" {
		t.Fatalf("default reports %+v", def)
	}
	r, err = regulations.Parse([]byte(head + `reports:
  - id: daily
    period: yesterday
    cron: "0 8 * * *"
    to: [role:supervisor, "chat:-100500", "email:owner@example.com"]
`))
	if err != nil {
		t.Fatal(err)
	}
	reps := r.ScheduledReports()
	if len(reps) != 1 || reps[0].ID != "daily" || reps[0].Period != "yesterday" || reps[0].Schedule == nil || len(reps[0].To) != 3 {
		t.Fatalf("reports %+v", reps)
	}
	// An empty list turns the default off.
	if r, err = regulations.Parse([]byte(head + "reports: []\n")); err != nil || len(r.ScheduledReports()) != 0 {
		t.Fatalf("reports: [] gave %v, %v", r.ScheduledReports(), err)
	}
	errs := parseErrors(t, head+`reports:
  - {id: weekly, period: fortnight, cron: "0 9 * * XYZ", to: [responsible]}
`)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Key] = true
	}
	for _, k := range []string{"reports[0].period", "reports[0].cron", "reports[0].to[0]"} {
		if !got[k] {
			t.Errorf("no error for %s; errors: %v", k, errs)
		}
	}
}

func TestParse_NotifyChannel(t *testing.T) {
	r, err := regulations.Parse([]byte(head + `automations:
  - id: lost_to_owner
    when: deal.lost
    do:
      - notify: {to: [supervisor, "email:owner@example.com"], channel: email}
  - id: overdue
    when: task.overdue
    do: [notify: [responsible]]
`))
	if err != nil {
		t.Fatal(err)
	}
	a := r.Automations[0].Do[0]
	if a.NotifyChannel != "email" || len(a.Notify) != 2 || a.Notify[0].String() != "supervisor" || a.Notify[1].String() != "email:owner@example.com" {
		t.Fatalf("notify %+v", a)
	}
	if b := r.Automations[1].Do[0]; b.NotifyChannel != "" || len(b.Notify) != 1 {
		t.Fatalf("the short form: %+v", b)
	}
	errs := parseErrors(t, head+`automations:
  - id: x
    when: deal.lost
    do:
      - notify: {to: [supervisor], channel: pigeon}
      - notify: {channel: email}
`)
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Key] = true
	}
	for _, k := range []string{"automations[0].do[0].notify.channel", "automations[0].do[1].notify.to"} {
		if !got[k] {
			t.Errorf("no error for %s; errors: %v", k, errs)
		}
	}
}

func TestParse_QualityRuleNotify(t *testing.T) {
	r, err := regulations.Parse([]byte(head + `quality:
  - {rule: missed_call_callback, limit: 15m, notify: [responsible, supervisor]}
  - rule: stage_sla
    notify: {to: ["chat:-100500"], channel: telegram}
`))
	if err != nil {
		t.Fatal(err)
	}
	if q := r.Quality[0]; len(q.Notify) != 2 || q.Notify[1].String() != "supervisor" || q.NotifyChannel != "" {
		t.Fatalf("missed_call_callback notify %+v", q)
	}
	if q := r.Quality[1]; len(q.Notify) != 1 || q.Notify[0].String() != "chat:-100500" || q.NotifyChannel != "telegram" {
		t.Fatalf("stage_sla notify %+v", q)
	}
	errs := parseErrors(t, head+`quality:
  - {rule: task_overdue, notify: [nobody_special]}
`)
	if len(errs) != 1 || errs[0].Key != "quality[0].notify[0]" {
		t.Fatalf("errors %v", errs)
	}
}
