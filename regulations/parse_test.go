package regulations_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/regulations"
)

// example is the contract example of DESIGN §4.4 (shared/examples/regulations.yaml),
// copied into the repository so the tests run on any clone.
const example = "../testdata/regulations.example.yaml"

func mustParse(tb testing.TB, src string) *regulations.Regulations {
	tb.Helper()
	r, err := regulations.Parse([]byte(src))
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return r
}

func TestParseFile_Example(t *testing.T) {
	r, err := regulations.ParseFile(example)
	if err != nil {
		t.Fatalf("the DESIGN example must pass:\n%v", err)
	}
	msk, _ := time.LoadLocation("Europe/Moscow")

	t.Run("Company", func(t *testing.T) {
		if r.Company != "ZolotarevAuto" || r.Timezone != "Europe/Moscow" || r.Location.String() != "Europe/Moscow" {
			t.Errorf("company %q, timezone %q, location %v", r.Company, r.Timezone, r.Location)
		}
		if r.WorkingHours != (regulations.Hours{From: 9 * 60, To: 21 * 60}) {
			t.Errorf("working hours %+v", r.WorkingHours)
		}
	})

	t.Run("Users", func(t *testing.T) {
		if len(r.Users) != 3 {
			t.Fatalf("%d users, want 3", len(r.Users))
		}
		sergey, _ := r.User("sergey")
		if sergey.Role != funnelwatch.RoleSupervisor || sergey.Telegram != "100500" || sergey.Email != "rop@example.com" {
			t.Errorf("sergey = %+v", sergey)
		}
		roman, ok := r.User("roman")
		if !ok || roman.Name != "Роман" || roman.Role != funnelwatch.RoleManager || roman.Supervisor != "sergey" || roman.SalesRole != "converter" {
			t.Fatalf("roman = %+v", roman)
		}
		// Roman works 3 days on, 3 off, from 1 November 2026 in Moscow.
		s := roman.Schedule
		if s.OnDays != 3 || s.OffDays != 3 || !s.Start.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, msk)) || s.Start.Location().String() != "Europe/Moscow" {
			t.Errorf("roman's schedule = %+v", s)
		}
		if !s.OnShift(time.Date(2026, 11, 3, 12, 0, 0, 0, msk)) || s.OnShift(time.Date(2026, 11, 4, 12, 0, 0, 0, msk)) {
			t.Errorf("roman should work on 3 November and rest on the 4th")
		}
		olga, _ := r.User("olga")
		if olga.SalesRole != "warmer" || !olga.Schedule.IsZero() {
			t.Errorf("olga = %+v", olga)
		}
	})

	t.Run("Pipelines", func(t *testing.T) {
		sales, ok := r.Pipeline("sales")
		if !ok || sales.Kind != funnelwatch.KindSales || sales.Name != "Основная воронка" || len(sales.Stages) != 5 {
			t.Fatalf("sales = %+v", sales)
		}
		if sales.Lifetime != 7*24*time.Hour {
			t.Errorf("sales lifetime %v, want 7d", sales.Lifetime)
		}
		then := r.Lifetimes["sales"]
		if then == nil || then.MoveTo != "warmup/new" || then.Assign != (regulations.Assignee{Kind: regulations.AssignRole, Value: "warmer"}) {
			t.Errorf("sales lifetime then = %+v", then)
		}
		if r.Lifetimes["warmup"] != nil {
			t.Errorf("warmup has no lifetime, got %+v", r.Lifetimes["warmup"])
		}
		target := sales.Stages[0]
		if target.ID != "target" || target.SLA != 2*time.Hour || !target.Critical || target.Type != funnelwatch.StageOpen ||
			target.Pipeline != "sales" || target.Order != 0 {
			t.Errorf("target = %+v", target)
		}
		ready, _ := sales.Stage("ready")
		if ready.Order != 2 || ready.SLA != 24*time.Hour || !slices.Equal(ready.RequiredFields, []string{"amount"}) {
			t.Errorf("ready = %+v", ready)
		}
		lost, _ := sales.Stage("lost")
		if lost.Type != funnelwatch.StageLost || !slices.Equal(lost.RequiredFields, []string{"loss_reason"}) {
			t.Errorf("lost = %+v", lost)
		}
		warmup, _ := r.Pipeline("warmup")
		if warmup.Kind != funnelwatch.KindWarmup || len(warmup.Stages) != 3 || warmup.Stages[1].Type != funnelwatch.StageWon {
			t.Errorf("warmup = %+v", warmup)
		}
	})

	t.Run("OnEnter", func(t *testing.T) {
		a, ok := r.AutomationByID("sales.target.on_enter")
		if !ok {
			t.Fatal("no automation for the target stage's on_enter")
		}
		if a.When != regulations.TriggerStageEntered || a.Stage != "sales/target" || len(a.Do) != 1 || a.Line != 19 {
			t.Fatalf("on_enter = %+v", a)
		}
		task := a.Do[0].Task
		if a.Do[0].Kind != regulations.ActionTask || task == nil || task.Text != "Получить контакт клиента" || task.Due != 15*time.Minute ||
			task.Assignee.Kind != regulations.AssignResponsible || task.Kind != "follow-up" {
			t.Errorf("on_enter task = %+v", task)
		}
	})

	t.Run("Automations", func(t *testing.T) {
		var ids []string
		for _, a := range r.Automations {
			ids = append(ids, a.ID)
		}
		want := []string{"sales.target.on_enter", "overdue_notify", "overdue_control", "lost_check", "back_to_sales", "repeat_sale", "monday_review"}
		if !slices.Equal(ids, want) {
			t.Errorf("automations %v, want %v (file order)", ids, want)
		}
		n, _ := r.AutomationByID("overdue_notify")
		if !slices.Equal(n.Do[0].Notify, []regulations.Recipient{{Kind: regulations.AssignResponsible}, {Kind: regulations.AssignSupervisor}}) {
			t.Errorf("overdue_notify notifies %v", n.Do[0].Notify)
		}
		oc, _ := r.AutomationByID("overdue_control")
		if oc.When != regulations.TriggerTaskOverdue || oc.After != time.Hour {
			t.Errorf("overdue_control = %+v", oc)
		}
		if task := oc.Do[0].Task; task.Assignee.Kind != regulations.AssignSupervisor || task.Due != 2*time.Hour || task.Kind != "control" {
			t.Errorf("overdue_control task = %+v", task)
		}
		back, _ := r.AutomationByID("back_to_sales")
		if back.Stage != "warmup/won" || len(back.Do) != 2 || back.Do[0].MoveTo != "sales/contact" ||
			back.Do[1].Assign != (regulations.Assignee{Kind: regulations.AssignUser, Value: "roman"}) {
			t.Errorf("back_to_sales = %+v", back)
		}
		rs, _ := r.AutomationByID("repeat_sale")
		if rs.When != regulations.TriggerDealWon || !slices.Equal(rs.Pipelines, []string{"sales"}) || rs.After != 25*24*time.Hour ||
			rs.Do[0].Kind != regulations.ActionCopy || rs.Do[0].MoveTo != "sales/target" {
			t.Errorf("repeat_sale = %+v", rs)
		}
		mr, _ := r.AutomationByID("monday_review")
		if mr.Cron != "0 9 * * MON" || mr.Schedule == nil {
			t.Fatalf("monday_review = %+v", mr)
		}
		// Tuesday 3 November 2026, 10:00 in Moscow: the next review is
		// Monday the 9th at 09:00 Moscow time.
		next := mr.Schedule.Next(time.Date(2026, 11, 3, 10, 0, 0, 0, msk))
		if want := time.Date(2026, 11, 9, 9, 0, 0, 0, msk); !next.Equal(want) {
			t.Errorf("next monday review %v, want %v", next, want)
		}
		if _, ok := r.AutomationByID("nope"); ok {
			t.Error("AutomationByID found an id that is not there")
		}
	})

	t.Run("Quality", func(t *testing.T) {
		if len(r.Quality) != 7 {
			t.Fatalf("%d quality rules, want 7", len(r.Quality))
		}
		nnt, _ := r.RuleByID("no_next_task")
		if nnt.Severity != regulations.SeverityViolation || nnt.Grace != 10*time.Minute {
			t.Errorf("no_next_task = %+v", nnt)
		}
		to, _ := r.RuleByID("task_overdue")
		if to.Severity != regulations.SeverityViolation || to.Grace != 0 || len(to.Pipelines) != 0 {
			t.Errorf("task_overdue defaults = %+v", to)
		}
		mcc, _ := r.RuleByID("missed_call_callback")
		if mcc.Limit != 15*time.Minute {
			t.Errorf("missed_call_callback limit %v", mcc.Limit)
		}
		lwr, _ := r.RuleByID("lost_without_reason")
		if lwr.Severity != regulations.SeverityRemark {
			t.Errorf("lost_without_reason severity %v", lwr.Severity)
		}
		bm, _ := r.RuleByID("backward_move")
		if !slices.Equal(bm.Pipelines, []string{"sales"}) {
			t.Errorf("backward_move pipelines %v", bm.Pipelines)
		}
		paid, ok := r.RuleByID("paid_not_moved")
		if !ok || paid.Rule != regulations.RuleExpr || paid.When != `deal.fields.paid == true && deal.stage == "contact"` ||
			paid.Message != "Оплата получена, а сделка на этапе «Контакт установлен»" ||
			paid.Recommendation != "Переведите сделку на этап «Готов к выдаче»" || paid.Line != 63 {
			t.Errorf("paid_not_moved = %+v", paid)
		}
		if _, ok := r.RuleByID("expr"); ok {
			t.Error(`an expression rule must not be found as "expr"`)
		}
	})
}

func TestParseFile_Missing(t *testing.T) {
	_, err := regulations.ParseFile("testdata/no-such-file.yaml")
	var errs regulations.Errors
	if err == nil || errors.As(err, &errs) {
		t.Fatalf("a missing file is an I/O error, not Errors: %v", err)
	}
}

// The other forms the docs promise, each in a small file.
func TestParse_Forms(t *testing.T) {
	const users = `company: Мебель
users:
  - {id: sergey, role: supervisor}
  - {id: anna, supervisor: sergey, sales_role: generator, schedule: "5/2 from 2026-01-05", telegram: 100500}
`
	const pipes = `pipelines:
  - id: sales
    lifetime: 30d
    stages:
      - {id: new}
      - {id: offer}
      - {id: won, type: won}
      - {id: lost, type: lost}
  - id: robot
    kind: automatic
    stages: [{id: queue}]
`
	t.Run("Defaults", func(t *testing.T) {
		// Timezone, role, kind, stage type and names all default.
		r := mustParse(t, users+pipes)
		if r.Timezone != "Europe/Moscow" || r.Location.String() != "Europe/Moscow" || !r.WorkingHours.IsZero() {
			t.Errorf("timezone %q %v, hours %+v", r.Timezone, r.Location, r.WorkingHours)
		}
		anna, _ := r.User("anna")
		if anna.Role != funnelwatch.RoleManager || anna.Name != "anna" || anna.Telegram != "100500" || anna.Schedule.OnDays != 5 || anna.Schedule.OffDays != 2 {
			t.Errorf("anna = %+v", anna)
		}
		sales, _ := r.Pipeline("sales")
		if sales.Kind != funnelwatch.KindSales || sales.Lifetime != 30*24*time.Hour || r.Lifetimes["sales"] != nil || sales.Stages[1].Type != funnelwatch.StageOpen || sales.Stages[1].Order != 1 {
			t.Errorf("sales = %+v, then %+v", sales, r.Lifetimes["sales"])
		}
		if _, ok := r.Pipeline("robot"); !ok {
			t.Error("an automatic pipeline needs no lost stage")
		}
	})

	t.Run("ActionForms", func(t *testing.T) {
		r := mustParse(t, users+pipes+`automations:
  - id: stale
    when: deal.idle
    pipeline: sales
    stage: offer
    idle: 3d
    if: deal.amount > 100000
    do:
      - move: new
      - notify: supervisor
      - message: Здравствуйте! Мы подготовили предложение.
      - webhook: https://example.com/hook
      - task: {text: Позвонить, due: 1h30m, assignee: round_robin:generator, kind: call, working_hours: true}
  - id: price
    when: field.changed
    field: amount
    do:
      - message: {template: Цена изменилась, channel: telegram}
      - webhook: {url: "http://example.com/x"}
      - notify: [chat:-100123, "email:rop@example.com", user:anna, role:supervisor]
`)
		a, _ := r.AutomationByID("stale")
		if a.Idle != 72*time.Hour || a.Stage != "sales/offer" || a.If != "deal.amount > 100000" || len(a.Do) != 5 {
			t.Fatalf("stale = %+v", a)
		}
		if a.Do[0].MoveTo != "sales/new" {
			t.Errorf("a bare stage in move is the automation's pipeline: %q", a.Do[0].MoveTo)
		}
		if !slices.Equal(a.Do[1].Notify, []regulations.Recipient{{Kind: regulations.AssignSupervisor}}) {
			t.Errorf("notify: supervisor = %v", a.Do[1].Notify)
		}
		if a.Do[2].Message.Template != "Здравствуйте! Мы подготовили предложение." || a.Do[3].Webhook.URL != "https://example.com/hook" {
			t.Errorf("message %+v, webhook %+v", a.Do[2].Message, a.Do[3].Webhook)
		}
		task := a.Do[4].Task
		if task.Due != 90*time.Minute || task.Assignee.String() != "round_robin:generator" || task.Kind != "call" || !task.WorkingHours {
			t.Errorf("task = %+v", task)
		}
		p, _ := r.AutomationByID("price")
		if p.Field != "amount" || p.Do[0].Message.Channel != "telegram" || p.Do[1].Webhook.URL != "http://example.com/x" {
			t.Errorf("price = %+v", p)
		}
		var got []string
		for _, n := range p.Do[2].Notify {
			got = append(got, n.String())
		}
		if want := []string{"chat:-100123", "email:rop@example.com", "user:anna", "role:supervisor"}; !slices.Equal(got, want) {
			t.Errorf("recipients %v, want %v", got, want)
		}
	})

	t.Run("QualityDefaults", func(t *testing.T) {
		r := mustParse(t, users+pipes+`quality:
  - {rule: first_response}
  - {rule: lost_too_fast}
  - {rule: call_without_update}
  - {rule: empty_comment}
  - {rule: junk_field, fields: [inn]}
  - {rule: reschedule_without_call}
  - {rule: mass_closing}
  - {rule: high_value_unsupervised}
  - {rule: anomaly, metric: short_calls}
  - {rule: anomaly, metric: low_check, threshold: 1.5}
  - {rule: required_fields, fields: [city], stages: [offer], pipeline: sales}
  - {rule: stage_sla, stage: sales/offer, severity: remark}
`)
		get := func(id string) *regulations.QualityRule {
			q, ok := r.RuleByID(id)
			if !ok {
				t.Fatalf("no rule %s", id)
			}
			return q
		}
		if get("first_response").Limit != 5*time.Minute || get("lost_too_fast").Limit != 10*time.Minute || get("call_without_update").Limit != time.Hour {
			t.Error("limit defaults")
		}
		ec := get("empty_comment")
		if ec.MinLength != 15 || len(ec.Regexps) == 0 || !ec.Regexps[0].MatchString("Связался.") || ec.Regexps[0].MatchString("Связался, обсудили доставку в четверг") {
			t.Errorf("empty_comment defaults = %+v", ec)
		}
		jf := get("junk_field")
		junk := func(s string) bool {
			for _, re := range jf.Regexps {
				if re.MatchString(s) {
					return true
				}
			}
			return false
		}
		if jf.MinLength != 2 || !slices.Equal(jf.Fields, []string{"inn"}) || !junk("s1nbvc[w/q") || !junk("...") || !junk("тест") ||
			junk("Иванов Пётр") || junk("Мкртчян") || junk("Schwarz") || junk("ООО «Ромашка»") || junk("7701234567") {
			t.Errorf("junk_field defaults = %+v", jf)
		}
		if get("reschedule_without_call").Count != 3 {
			t.Error("reschedule_without_call count")
		}
		if mc := get("mass_closing"); mc.Count != 10 || mc.Window != time.Hour {
			t.Errorf("mass_closing = %+v", mc)
		}
		if hv := get("high_value_unsupervised"); hv.Amount != 100000 || hv.Limit != 24*time.Hour {
			t.Errorf("high_value_unsupervised = %+v", hv)
		}
		an := get("anomaly")
		if an.Metric != "short_calls" || an.Threshold != 2 {
			t.Errorf("anomaly = %+v", an)
		}
		if lc := r.Quality[9]; lc.Metric != "low_check" || lc.Threshold != 1.5 {
			t.Errorf("second anomaly = %+v", lc)
		}
		rf := get("required_fields")
		if !slices.Equal(rf.Stages, []string{"sales/offer"}) || !slices.Equal(rf.Pipelines, []string{"sales"}) || !slices.Equal(rf.Fields, []string{"city"}) {
			t.Errorf("required_fields = %+v", rf)
		}
		if ss := get("stage_sla"); !slices.Equal(ss.Stages, []string{"sales/offer"}) || ss.Severity != regulations.SeverityRemark {
			t.Errorf("stage_sla = %+v", ss)
		}
	})

	t.Run("Anchors", func(t *testing.T) {
		// A shared task written once and reused with an alias and a merge.
		r := mustParse(t, users+pipes+`automations:
  - id: a
    when: deal.created
    do: [task: &call {text: Позвонить клиенту, due: 15m, kind: call}]
  - id: b
    when: deal.lost
    do: [task: {<<: *call, assignee: supervisor}]
`)
		b, _ := r.AutomationByID("b")
		if task := b.Do[0].Task; task.Text != "Позвонить клиенту" || task.Kind != "call" || task.Assignee.Kind != regulations.AssignSupervisor {
			t.Errorf("merged task = %+v", task)
		}
	})
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"90s", 90 * time.Second},
		{"15m", 15 * time.Minute},
		{"2h", 2 * time.Hour},
		{"1d", 24 * time.Hour},
		{"7d", 7 * 24 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1d12h", 36 * time.Hour},
		{" 2h ", 2 * time.Hour},
		{"0", 0},
		{"0m", 0},
	} {
		if got, err := regulations.ParseDuration(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "7x", "-1h", "90", "1.5h", "h", "2H", "1h 30m", "99999999999999999999d", "1000000w"} {
		if d, err := regulations.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
	_, err := regulations.ParseDuration("7x")
	if want := `bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// The complete example of docs/regulations.md must pass and must use
// every trigger, every action and every rule, so the docs cannot drift.
func TestParse_DocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/regulations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## Complete example")
	if !ok {
		t.Fatal("docs/regulations.md has no complete example")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	src, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the complete example is not a closed yaml block")
	}
	r := mustParse(t, src)
	triggers := map[regulations.Trigger]bool{}
	actions := map[regulations.ActionKind]bool{}
	for _, a := range r.Automations {
		triggers[a.When] = true
		for _, d := range a.Do {
			actions[d.Kind] = true
		}
	}
	for _, tr := range regulations.Triggers {
		if !triggers[tr] {
			t.Errorf("the docs example uses no %s trigger", tr)
		}
	}
	for _, k := range []regulations.ActionKind{regulations.ActionTask, regulations.ActionMove, regulations.ActionAssign,
		regulations.ActionNotify, regulations.ActionMessage, regulations.ActionCopy, regulations.ActionWebhook} {
		if !actions[k] {
			t.Errorf("the docs example uses no %s action", k)
		}
	}
	rules := map[string]bool{}
	for _, q := range r.Quality {
		rules[q.Rule] = true
	}
	for _, id := range regulations.Rules {
		if !rules[id] {
			t.Errorf("the docs example uses no %s rule", id)
		}
	}
}
