package bench_test

import (
	"testing"

	"github.com/funnelwatch/funnelwatch/bench"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// benchRegulations switches on every rule the synthetic log can trip and
// the robots of the contract example.
const benchRegulations = `
company: Bench
timezone: Europe/Moscow
users:
  - {id: sergey, name: Сергей, role: supervisor}
  - {id: roman, name: Роман, role: manager, supervisor: sergey, sales_role: converter}
  - {id: olga, name: Ольга, role: manager, supervisor: sergey, sales_role: warmer}
pipelines:
  - id: sales
    name: Основная воронка
    lifetime: 7d
    stages:
      - {id: target, name: Целевой клиент, sla: 2h, on_enter: [task: {text: Получить контакт клиента, due: 15m}]}
      - {id: contact, name: Контакт установлен, sla: 1d}
      - {id: ready, name: Готов к выдаче, sla: 1d, required_fields: [amount]}
      - {id: won, name: Успешно реализовано, type: won}
      - {id: lost, name: Закрыто и не реализовано, type: lost}
automations:
  - {id: overdue_notify, when: task.overdue, do: [notify: [responsible, supervisor]]}
  - {id: overdue_control, when: task.overdue, after: 1h, do: [task: {assignee: supervisor, text: Проверить причину просрочки, due: 2h, kind: control}]}
  - {id: lost_check, when: deal.lost, do: [task: {assignee: supervisor, text: Проверить корректность отказа, due: 1d}]}
quality:
  - {rule: no_next_task, grace: 10m}
  - {rule: task_overdue}
  - {rule: task_no_due}
  - {rule: stage_sla}
  - {rule: pipeline_lifetime}
  - {rule: required_fields}
  - {rule: backward_move}
  - {rule: lost_without_reason, severity: remark}
  - {rule: lost_too_fast}
  - {rule: first_response}
  - {rule: missed_call_callback}
  - {rule: call_without_update}
  - {rule: empty_comment, severity: remark}
  - {rule: reschedule_without_call}
  - {rule: high_value_unsupervised}
  - {rule: mass_closing}
`

// BenchmarkBacktest replays the synthetic log with every rule and robot on
// (simulate mode), beside a baseline in the same run: folding the same
// events with no rules.
func BenchmarkBacktest(b *testing.B) {
	regs, err := regulations.Parse([]byte(benchRegulations))
	if err != nil {
		b.Fatal(err)
	}
	events := bench.SyntheticEvents(200_000, 1, storetestBase)
	b.Run("fold-only-baseline", func(b *testing.B) {
		for b.Loop() {
			aggs := map[string]*engine.Aggregate{}
			taskDeal := map[string]string{}
			for i := range events {
				e := events[i]
				id := e.DealRef()
				if id == "" {
					id = taskDeal[e.TaskID]
				}
				if e.Task != nil {
					taskDeal[e.Task.ID] = id
				}
				a := aggs[id]
				if a == nil {
					a = engine.NewAggregate()
					aggs[id] = a
				}
				a.Apply(&regs.Funnel, &e)
			}
		}
		b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("all-rules-simulate", func(b *testing.B) {
		for b.Loop() {
			if _, err := engine.Backtest(regs, events, events[len(events)-1].At, engine.Simulate); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
