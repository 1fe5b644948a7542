package engine_test

// Temporary equivalence harness (not for commit): dumps every finding and
// action of many backtests, to compare the engine before and after a change.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/demo"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

const richRegs = `
company: Rich
timezone: Europe/Moscow
working_hours: "09:00-21:00"
users:
  - {id: sergey, name: S, role: supervisor}
  - {id: roman, name: R, role: manager, supervisor: sergey, sales_role: converter, schedule: "3/3 from 2026-01-01"}
  - {id: anna, name: A, role: manager, supervisor: sergey, sales_role: converter, schedule: "3/3 from 2026-01-04"}
  - {id: olga, name: O, role: manager, supervisor: sergey, sales_role: warmer}
  - {id: ivan, name: I, role: manager, supervisor: sergey, sales_role: warmer}
  - {id: boss, name: B, role: supervisor}
pipelines:
  - id: sales
    name: Sales
    lifetime: {limit: 3d, then: {move_to: warmup/new, assign: role:warmer}}
    stages:
      - {id: target, name: T, sla: 2h, on_enter: [task: {text: Получить контакт, due: 15m}]}
      - {id: contact, name: C, sla: 1d}
      - {id: ready, name: R, sla: 1d, required_fields: [amount, car]}
      - {id: won, name: W, type: won}
      - {id: lost, name: L, type: lost, required_fields: [loss_reason]}
  - id: warmup
    name: Warm
    lifetime: {limit: 5d}
    stages:
      - {id: new, name: N, sla: 1d}
      - {id: warming, name: G}
      - {id: won, name: W, type: won}
      - {id: lost, name: L, type: lost}
automations:
  - {id: created_task, when: deal.created, pipeline: warmup, do: [task: {text: Warm up, due: 30m, assignee: round_robin:warmer}]}
  - {id: overdue_notify, when: task.overdue, do: [notify: [responsible, supervisor, "role:converter"]]}
  - {id: overdue_control, when: task.overdue, after: 1h, do: [task: {assignee: supervisor, text: Control, due: 2h, kind: control}]}
  - {id: lost_check, when: deal.lost, do: [task: {assignee: supervisor, text: Check, due: 1d}]}
  - {id: won_later, when: deal.won, after: 2d, if: 'deal.amount > 50000', do: [copy: sales/target, notify: [responsible]]}
  - {id: ready_call, when: stage.entered, stage: sales/ready, do: [task: {assignee: role:warmer, text: Call, due: 2h, kind: call}]}
  - {id: contact_after, when: stage.entered, stage: sales/contact, after: 3h, do: [message: {template: hello, channel: whatsapp}]}
  - {id: amount_changed, when: field.changed, field: amount, after: 30m, do: [notify: [supervisor]]}
  - {id: car_changed, when: field.changed, field: car, do: [webhook: {url: "https://example.com/h"}]}
  - {id: resp_changed, when: responsible.changed, after: 10m, do: [notify: [responsible]]}
  - {id: resp_field, when: field.changed, field: responsible, do: [notify: [supervisor]]}
  - {id: idle, when: deal.idle, idle: 1d, do: [notify: [responsible]]}
  - {id: sla_passed, when: stage.sla_passed, pipeline: sales, do: [assign: role:converter, notify: [supervisor]]}
  - {id: sla_contact, when: stage.sla_passed, stage: sales/contact, after: 1h, do: [notify: ["role:warmer"]]}
  - {id: missed, when: call.missed, do: [task: {text: Call back, due: 15m, kind: call}]}
  - {id: missed_late, when: call.missed, after: 20m, do: [notify: [supervisor]]}
  - {id: weekly, when: schedule, cron: "0 9 * * MON", do: [notify: ["role:supervisor"]]}
quality:
  - {rule: no_next_task, grace: 10m}
  - {rule: task_overdue, grace: 5m}
  - {rule: task_no_due}
  - {rule: stage_sla}
  - {rule: pipeline_lifetime}
  - {rule: required_fields, fields: [source]}
  - {rule: junk_field, severity: remark, fields: [car, name]}
  - {rule: backward_move, pipelines: [sales]}
  - {rule: lost_without_reason, severity: remark}
  - {rule: lost_too_fast, limit: 2h}
  - {rule: first_response, limit: 5m, pipelines: [sales]}
  - {rule: missed_call_callback, limit: 15m, grace: 1m}
  - {rule: call_without_update, limit: 30m, min_duration: 10s}
  - {rule: empty_comment, severity: remark, limit: 1h}
  - {rule: reschedule_without_call, count: 2}
  - {rule: high_value_unsupervised, amount: 80000, limit: 2h}
  - {rule: mass_closing, window: 1h, count: 3}
  - {rule: anomaly, threshold: 1.5}
  - {rule: expr, id: paid_contact, when: 'deal.fields.paid == true && deal.stage == "contact"', stages: [sales/contact]}
  - {rule: expr, id: big_target, when: 'deal.amount > 100000', pipelines: [sales], grace: 30m}
`

// richEvents makes a varied random log over the rich regulations.
func richEvents(n int, seed uint64, start time.Time) []funnelwatch.Event {
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	users := []string{"roman", "anna", "olga", "ivan", "sergey", ""}
	sales := []string{"target", "contact", "ready", "won", "lost"}
	warm := []string{"new", "warming", "won", "lost"}
	notes := []string{"ок", "Связался", "Клиент ждёт счёт, перезвонить завтра", "", "тест", "Подробный разговор о подвеске и цене"}
	cars := []string{"BMW X5", "тест", "asdfgh", "", "Audi Q7", "s1nbvc[w/q"}
	type deal struct {
		id, pipe string
		tasks    []string
		phone    string
	}
	var deals []*deal
	events := make([]funnelwatch.Event, 0, n)
	at := start
	nt, no := 0, 0
	for len(events) < n {
		step := rng.IntN(100)
		switch {
		case step < 70:
			at = at.Add(time.Duration(rng.IntN(600)) * time.Second)
		case step < 95:
			at = at.Add(time.Duration(rng.IntN(4)) * time.Hour)
		case step < 98:
		default:
			at = at.Add(time.Duration(rng.IntN(48)) * time.Hour)
		}
		if rng.IntN(20) == 0 {
			at = at.Add(-time.Duration(rng.IntN(30)) * time.Minute) // out of order: sorted by the backtest
		}
		id := fmt.Sprintf("e%d", len(events))
		r := rng.IntN(100)
		if len(deals) < 5 || r < 10 {
			d := &deal{id: fmt.Sprintf("D%d", len(deals)+1), pipe: "sales", phone: fmt.Sprintf("+7912%07d", rng.IntN(40))}
			stage := ""
			if rng.IntN(6) == 0 {
				d.pipe = "warmup"
			} else if rng.IntN(8) == 0 {
				stage = sales[rng.IntN(len(sales))]
			}
			deals = append(deals, d)
			fields := map[string]any{}
			if rng.IntN(2) == 0 {
				fields["car"] = cars[rng.IntN(len(cars))]
			}
			if rng.IntN(5) == 0 {
				fields["paid"] = true
			}
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealCreated, At: at, Actor: users[rng.IntN(len(users))],
				Deal: &funnelwatch.DealPayload{ID: d.id, Pipeline: d.pipe, Stage: stage, Responsible: users[rng.IntN(4)],
					Amount: float64(1000 * rng.IntN(200)), Source: []string{"avito", ""}[rng.IntN(2)], Name: cars[rng.IntN(len(cars))],
					Contact: &funnelwatch.ContactInfo{Name: "K", Phone: d.phone}, Fields: fields}})
			continue
		}
		d := deals[rng.IntN(len(deals))]
		if rng.IntN(3) == 0 && len(deals) > 20 {
			d = deals[len(deals)-1-rng.IntN(20)]
		}
		actor := users[rng.IntN(len(users))]
		switch {
		case r < 30:
			nt++
			tid := fmt.Sprintf("T%d", nt)
			d.tasks = append(d.tasks, tid)
			var due *time.Time
			if rng.IntN(8) != 0 {
				x := at.Add(time.Duration(rng.IntN(300)-30) * time.Minute)
				due = &x
			}
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventTaskCreated, At: at, Actor: actor,
				Task: &funnelwatch.TaskPayload{ID: tid, DealID: d.id, Due: due, Assignee: users[rng.IntN(len(users))], Text: "x", Kind: "call"}})
		case r < 42 && len(d.tasks) > 0:
			i := rng.IntN(len(d.tasks))
			tid := d.tasks[i]
			typ := funnelwatch.EventTaskCompleted
			if rng.IntN(5) == 0 {
				typ = funnelwatch.EventTaskDeleted
			}
			if rng.IntN(4) == 0 {
				d.tasks = append(d.tasks[:i], d.tasks[i+1:]...)
			}
			events = append(events, funnelwatch.Event{ID: id, Type: typ, At: at, Actor: actor, TaskID: tid, Result: "r"})
		case r < 48 && len(d.tasks) > 0:
			tid := d.tasks[rng.IntN(len(d.tasks))]
			due := at.Add(time.Duration(rng.IntN(300)-60) * time.Minute)
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventTaskRescheduled, At: at, Actor: actor, TaskID: tid, Due: &due})
		case r < 62:
			no++
			dir := "out"
			if rng.IntN(2) == 0 {
				dir = "in"
			}
			dealID := d.id
			if rng.IntN(5) == 0 {
				dealID = ""
			}
			ph := d.phone
			if rng.IntN(6) == 0 {
				ph = fmt.Sprintf("8912%07d", rng.IntN(40))
			}
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventCall, At: at, Actor: actor,
				Call: &funnelwatch.CallPayload{ID: fmt.Sprintf("C%d", no), User: users[rng.IntN(5)], Direction: dir,
					Phone: ph, StartedAt: at, DurationS: rng.IntN(400), Answered: rng.IntN(3) != 0, DealID: dealID}})
		case r < 72:
			no++
			author := users[rng.IntN(len(users))]
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventNoteAdded, At: at, Actor: actor,
				Note: &funnelwatch.NotePayload{ID: fmt.Sprintf("N%d", no), DealID: d.id, Author: author, Text: notes[rng.IntN(len(notes))]}})
		case r < 78:
			e := funnelwatch.Event{ID: id, Type: funnelwatch.EventDealUpdated, At: at, Actor: actor, DealID: d.id}
			if rng.IntN(2) == 0 {
				amt := float64(1000 * rng.IntN(200))
				e.Amount = &amt
			}
			if rng.IntN(2) == 0 {
				e.Fields = map[string]any{"car": cars[rng.IntN(len(cars))]}
				if rng.IntN(3) == 0 {
					e.Fields["paid"] = rng.IntN(2) == 0
				}
				if rng.IntN(5) == 0 {
					e.Fields["car"] = nil
				}
			}
			events = append(events, e)
		case r < 82:
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealResponsibleChanged, At: at, Actor: actor, DealID: d.id, To: users[rng.IntN(4)]})
		case r < 83:
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealDeleted, At: at, Actor: actor, DealID: d.id})
		default:
			to := sales[rng.IntN(len(sales))]
			if d.pipe == "warmup" {
				to = warm[rng.IntN(len(warm))]
				if rng.IntN(5) == 0 {
					to, d.pipe = "sales/contact", "sales"
				}
			} else if rng.IntN(10) == 0 {
				to, d.pipe = "warmup/new", "warmup"
			}
			reason := ""
			if rng.IntN(2) == 0 {
				reason = "цена"
			}
			events = append(events, funnelwatch.Event{ID: id, Type: funnelwatch.EventDealStageChanged, At: at, Actor: actor, DealID: d.id, ToStage: to, LossReason: reason})
		}
	}
	return events
}

type dumpV struct {
	*engine.Violation
}

func dump(t *testing.T, res *engine.BacktestResult) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, v := range res.Violations {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("--- actions\n")
	for _, a := range res.Actions {
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString("--- skipped\n")
	for _, s := range res.Skipped {
		enc.Encode(s)
	}
	return b.Bytes()
}

func check(t *testing.T, name string, got []byte) {
	dir := os.Getenv("GOLDEN_DIR")
	if dir == "" {
		t.Skip("GOLDEN_DIR not set")
	}
	path := filepath.Join(dir, name+".ndjson")
	if os.Getenv("GOLDEN_WRITE") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		os.WriteFile(path+".got", got, 0o644)
		t.Errorf("%s differs (see %s.got)", name, path)
	}
}

func TestZZEquivalence(t *testing.T) {
	base := time.Date(2026, 8, 1, 9, 0, 0, 0, time.UTC)
	rich, err := regulations.Parse([]byte(richRegs))
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 40; seed++ {
		n := 300 + int(seed)*100
		if seed > 36 {
			n = 8000
		}
		events := richEvents(n, seed, base)
		for _, mode := range []engine.Mode{engine.Simulate, engine.Observe} {
			res, err := engine.Backtest(rich, events, time.Time{}, mode)
			if err != nil {
				t.Fatal(err)
			}
			check(t, fmt.Sprintf("rich-%d-%s", seed, mode), dump(t, res))
			if seed%5 == 0 {
				res, err := engine.Backtest(rich, events, events[len(events)-1].At.Add(10*24*time.Hour), mode)
				if err != nil {
					t.Fatal(err)
				}
				check(t, fmt.Sprintf("rich-%d-%s-until", seed, mode), dump(t, res))
			}
		}
	}
	benchRegs, err := os.ReadFile("../bench/backtest_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_ = benchRegs
	events := bench.SyntheticEvents(40000, 3, base)
	res, err := engine.Backtest(rich, events, time.Time{}, engine.Simulate)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "synth-rich", dump(t, res))
	for _, seed := range []int64{1, 2} {
		co, err := demo.Generate(demo.Options{Seed: seed, End: time.Date(2026, 11, 20, 14, 37, 0, 0, time.UTC), Days: 30})
		if err != nil {
			t.Fatal(err)
		}
		regs, err := regulations.Parse(co.Regulations)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []engine.Mode{engine.Simulate, engine.Observe} {
			res, err := engine.Backtest(regs, co.Events, time.Time{}, mode)
			if err != nil {
				t.Fatal(err)
			}
			check(t, fmt.Sprintf("demo-%d-%s", seed, mode), dump(t, res))
		}
		res, err := engine.Backtest(rich, co.Events, time.Time{}, engine.Simulate)
		if err != nil {
			t.Fatal(err)
		}
		check(t, fmt.Sprintf("demo-%d-rich", seed), dump(t, res))
	}
}
