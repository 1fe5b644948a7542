package engine

import (
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

func TestWorkingDue(t *testing.T) {
	msk, _ := time.LoadLocation("Europe/Moscow")
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, msk) }
	day := regulations.Hours{From: 9 * 60, To: 21 * 60}
	// 3/3 from Nov 1: on 1-3, off 4-6, on 7-9.
	shift := funnelwatch.Schedule{OnDays: 3, OffDays: 3, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	cases := []struct {
		name  string
		start time.Time
		due   time.Duration
		hours regulations.Hours
		sched funnelwatch.Schedule
		want  time.Time
	}{
		{"inside the day", at(2, 10, 0), 2 * time.Hour, day, funnelwatch.Schedule{}, at(2, 12, 0)},
		{"runs past closing into the next morning", at(2, 20, 30), 2 * time.Hour, day, funnelwatch.Schedule{}, at(3, 10, 30)},
		{"set before opening", at(2, 7, 0), 15 * time.Minute, day, funnelwatch.Schedule{}, at(2, 9, 15)},
		{"exactly at closing", at(2, 19, 0), 2 * time.Hour, day, funnelwatch.Schedule{}, at(2, 21, 0)},
		{"skips the days off of a 3/3 shift", at(3, 20, 0), 2 * time.Hour, day, shift, at(7, 10, 0)},
		{"set on a day off", at(5, 12, 0), time.Hour, day, shift, at(7, 10, 0)},
		{"no working hours: all day, only shift days", at(3, 23, 0), 2 * time.Hour, regulations.Hours{}, shift, at(7, 1, 0)},
		{"a day of due is the next working day, same time", at(2, 15, 0), 24 * time.Hour, day, funnelwatch.Schedule{}, at(3, 15, 0)},
		{"a day from the last day of a shift", at(3, 15, 0), 24 * time.Hour, day, shift, at(7, 15, 0)},
		{"a day and two hours, past closing", at(2, 20, 0), 26 * time.Hour, day, funnelwatch.Schedule{}, at(4, 10, 0)},
		{"a day set after hours lands at the next opening", at(2, 22, 0), 24 * time.Hour, day, funnelwatch.Schedule{}, at(4, 9, 0)},
	}
	for _, c := range cases {
		if got := workingDue(c.start, c.due, c.hours, c.sched, msk); !got.Equal(c.want) {
			t.Errorf("%s: due %v, want %v", c.name, got, c.want)
		}
	}
}

// A robot's task with working_hours: the deal arrives at 20:30 on Roman's
// last shift day (3/3 from Nov 1: on 1–3, off 4–6); the 2h call task is
// due at 10:30 on his next shift day, Nov 7.
func TestRobotTaskInWorkingHours(t *testing.T) {
	regs, err := regulations.Parse([]byte(`company: T
timezone: Europe/Moscow
working_hours: "09:00-21:00"
users:
  - {id: sergey, name: Сергей, role: supervisor}
  - {id: roman, name: Роман, role: manager, supervisor: sergey, schedule: "3/3 from 2026-11-01"}
pipelines:
  - id: sales
    name: Продажи
    stages:
      - id: target
        name: Целевой
        on_enter:
          - task: {text: Позвонить, due: 2h, kind: call, working_hours: true}
          - task: {text: Написать, due: 2h}
      - {id: won, name: Успех, type: won}
      - {id: lost, name: Отказ, type: lost}
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := funnelwatch.DecodeEvent([]byte(`{"id":"e1","type":"deal.created","at":"2026-11-03T20:30:00+03:00","deal":{"id":"D1","pipeline":"sales","stage":"target","responsible":"roman"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Backtest(regs, []funnelwatch.Event{e}, time.Time{}, Simulate)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Actions) != 2 {
		t.Fatalf("actions %v", res.Actions)
	}
	msk := regs.Location
	if want := time.Date(2026, 11, 7, 10, 30, 0, 0, msk); !res.Actions[0].Due.Equal(want) {
		t.Errorf("working-hours task due %v, want %v", res.Actions[0].Due, want)
	}
	if want := time.Date(2026, 11, 3, 22, 30, 0, 0, msk); !res.Actions[1].Due.Equal(want) {
		t.Errorf("plain task due %v, want %v", res.Actions[1].Due, want)
	}
}
