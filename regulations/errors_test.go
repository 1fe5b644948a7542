package regulations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/funnelwatch/funnelwatch/regulations"
)

// head is a small valid start of a file: two users and one pipeline.
// Cases append their own sections from line 12.
const head = `company: Септики
users:
  - {id: sergey, role: supervisor}
  - {id: roman, supervisor: sergey, sales_role: converter}
pipelines:
  - id: sales
    stages:
      - {id: target, sla: 2h}
      - {id: contact, sla: 1d}
      - {id: won, type: won}
      - {id: lost, type: lost}
`

// want is one expected error: its line, its key and words of its message.
type want struct {
	line int
	key  string
	msg  string
}

func parseErrors(t *testing.T, src string) regulations.Errors {
	t.Helper()
	r, err := regulations.Parse([]byte(src))
	if err == nil {
		t.Fatalf("Parse accepted a broken file: %+v", r)
	}
	if r != nil {
		t.Errorf("Parse returned regulations with an error")
	}
	var errs regulations.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T is not Errors: %v", err, err)
	}
	for _, e := range errs {
		checkRussian(t, e)
	}
	return errs
}

func TestParse_Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []want
	}{
		{
			// The lifetime sends deals to a warm-up pipeline nobody declared.
			name: "UnknownStageInMoveTo",
			src: `company: Септики
pipelines:
  - id: sales
    lifetime: {limit: 7d, then: {move_to: warmup/new}}
    stages: [{id: target}, {id: lost, type: lost}]
`,
			want: []want{{4, "pipelines[0].lifetime.then.move_to", `unknown stage "warmup/new" (there is no pipeline warmup)`}},
		},
		{
			// A typo in a stage of a pipeline that exists.
			name: "UnknownStageInMove",
			src: head + `automations:
  - id: back
    when: deal.lost
    do: [move: sales/contakt]
`,
			want: []want{{15, "automations[0].do[0].move", `unknown stage "sales/contakt"`}},
		},
		{
			name: "UnknownTopLevelKey",
			src:  head + "quallity:\n  - {rule: stage_sla}\n",
			want: []want{{12, "quallity", "unknown key quallity (did you mean quality?)"}},
		},
		{
			name: "DuplicateUserID",
			src: `company: Септики
users:
  - {id: roman}
  - {id: olga}
  - {id: roman, name: Роман второй}
`,
			want: []want{{5, "users[2].id", "duplicate user id roman (first at line 3)"}},
		},
		{
			name: "DuplicatePipelineID",
			src: head + `  - id: sales
    stages: [{id: a}, {id: lost, type: lost}]
`,
			want: []want{{12, "pipelines[1].id", "duplicate pipeline id sales (first at line 6)"}},
		},
		{
			name: "DuplicateStageID",
			src: `company: Септики
pipelines:
  - id: sales
    stages:
      - {id: target}
      - {id: contact}
      - {id: target, name: Целевой ещё раз}
      - {id: lost, type: lost}
`,
			want: []want{{7, "pipelines[0].stages[2].id", "duplicate stage id target in pipeline sales (first at line 5)"}},
		},
		{
			name: "DuplicateAutomationID",
			src: head + `automations:
  - id: notify_rop
    when: task.overdue
    do: [notify: supervisor]
  - id: notify_rop
    when: deal.lost
    do: [notify: supervisor]
`,
			want: []want{{16, "automations[1].id", "duplicate automation id notify_rop (first at line 13)"}},
		},
		{
			name: "DuplicateRule",
			src: head + `quality:
  - {rule: stage_sla}
  - {rule: task_overdue}
  - {rule: stage_sla, severity: remark}
`,
			want: []want{{15, "quality[2].rule", "rule stage_sla is listed twice (first at line 13)"}},
		},
		{
			name: "DuplicateExprRule",
			src: head + `quality:
  - {rule: expr, id: paid, when: deal.fields.paid}
  - {rule: expr, id: paid, when: deal.fields.shipped}
`,
			want: []want{{14, "quality[1].id", "rule paid is listed twice (first at line 13)"}},
		},
		{
			name: "BadDuration",
			src: `company: Септики
pipelines:
  - id: sales
    stages:
      - {id: target, sla: 2h}
      - {id: contact, sla: 7x}
      - {id: lost, type: lost}
`,
			want: []want{{6, "pipelines[0].stages[1].sla", `bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`}},
		},
		{
			// "90" could be minutes or seconds: a unit is required.
			name: "DurationWithoutUnit",
			src:  head + "automations:\n  - {id: a, when: deal.won, after: 90, do: [notify: supervisor]}\n",
			want: []want{{13, "automations[0].after", `bad duration "90"`}},
		},
		{
			name: "NegativeDuration",
			src:  head + "quality:\n  - {rule: no_next_task, grace: -1h}\n",
			want: []want{{13, "quality[0].grace", `bad duration "-1h"`}},
		},
		{
			name: "MissingLostStage",
			src: `company: Септики
pipelines:
  - id: sales
    stages:
      - {id: target}
      - {id: won, type: won}
`,
			want: []want{{4, "pipelines[0].stages", "pipeline sales has no stage of type lost"}},
		},
		{
			name: "NoOpenStage",
			src: `company: Септики
pipelines:
  - id: done
    kind: automatic
    stages: [{id: won, type: won}]
`,
			want: []want{{5, "pipelines[0].stages", "pipeline done has no open stage"}},
		},
		{
			name: "UnknownSupervisor",
			src: `company: Септики
users:
  - {id: sergey, role: supervisor}
  - {id: roman, supervisor: sergei}
`,
			want: []want{{4, "users[1].supervisor", `unknown supervisor "sergei"`}},
		},
		{
			// Roman reports to Olga, Olga to Roman: escalation never ends.
			name: "SupervisorCycle",
			src: `company: Септики
users:
  - {id: sergey, role: supervisor}
  - {id: roman, supervisor: olga}
  - {id: olga, supervisor: roman}
  - {id: anna, supervisor: olga}
`,
			want: []want{{4, "users[1].supervisor", "supervisor cycle: roman → olga → roman"}},
		},
		{
			name: "SelfSupervisor",
			src:  "company: Септики\nusers:\n  - {id: roman, supervisor: roman}\n",
			want: []want{{3, "users[0].supervisor", "supervisor cycle: roman → roman"}},
		},
		{
			// Nobody is a warmer in this company.
			name: "UnknownRole",
			src: head + `automations:
  - id: to_warmup
    when: deal.idle
    idle: 3d
    do: [assign: role:warmer]
`,
			want: []want{{16, "automations[0].do[0].assign", `unknown role "warmer"`}},
		},
		{
			name: "UnknownUser",
			src:  head + "automations:\n  - {id: a, when: deal.won, do: [assign: user:ivan]}\n",
			want: []want{{13, "automations[0].do[0].assign", `unknown user "ivan"`}},
		},
		{
			name: "UnknownAssigneeForm",
			src:  head + "automations:\n  - {id: a, when: deal.won, do: [task: {text: Позвонить, due: 1h, assignee: boss}]}\n",
			want: []want{{13, "automations[0].do[0].task.assignee", `unknown assignee "boss"`}},
		},
		{
			name: "UnknownRuleID",
			src:  head + "quality:\n  - {rule: no_next_step}\n",
			want: []want{{13, "quality[0].rule", `unknown rule "no_next_step" (valid: no_next_task,`}},
		},
		{
			name: "UnknownKey",
			src: `company: Септики
pipelines:
  - id: sales
    stages:
      - {id: target, sla_time: 2h}
      - {id: lost, type: lost}
`,
			want: []want{{5, "pipelines[0].stages[0].sla_time", "unknown key sla_time (did you mean sla?)"}},
		},
		{
			// limit means nothing to no_next_task: say so instead of ignoring it.
			name: "ParameterOfAnotherRule",
			src:  head + "quality:\n  - {rule: no_next_task, limit: 5m}\n",
			want: []want{{13, "quality[0].limit", "unknown key limit for rule no_next_task"}},
		},
		{
			name: "UnknownTrigger",
			src:  head + "automations:\n  - id: a\n    when: task.late\n    do: [notify: supervisor]\n",
			want: []want{{14, "automations[0].when", `unknown trigger "task.late" (valid: deal.created,`}},
		},
		{
			name: "BadCron",
			src: head + `automations:
  - id: review
    when: schedule
    cron: "0 9 * * MUN"
    do: [notify: supervisor]
`,
			want: []want{{15, "automations[0].cron", `bad cron "0 9 * * MUN": day of week: "MUN" is not a number or a name (SUN-SAT)`}},
		},
		{
			name: "CronFieldCount",
			src:  head + "automations:\n  - {id: r, when: schedule, cron: \"0 9 * *\", do: [notify: supervisor]}\n",
			want: []want{{13, "automations[0].cron", "want 5 fields"}},
		},
		{
			name: "CronMissing",
			src:  head + "automations:\n  - {id: r, when: schedule, do: [notify: supervisor]}\n",
			want: []want{{13, "automations[0].cron", "cron is required"}},
		},
		{
			name: "IdleMissing",
			src:  head + "automations:\n  - {id: r, when: deal.idle, do: [notify: supervisor]}\n",
			want: []want{{13, "automations[0].idle", "idle is required"}},
		},
		{
			name: "UnknownAction",
			src:  head + "automations:\n  - {id: r, when: deal.won, do: [call: supervisor]}\n",
			want: []want{{13, "automations[0].do[0].call", "unknown action call"}},
		},
		{
			name: "TaskWithoutDue",
			src:  head + "automations:\n  - id: r\n    when: deal.won\n    do:\n      - task: {text: Позвонить}\n",
			want: []want{{16, "automations[0].do[0].task.due", "due is required"}},
		},
		{
			name: "BareStageWithoutPipeline",
			src:  head + "automations:\n  - {id: r, when: deal.won, do: [copy: target]}\n",
			want: []want{{13, "automations[0].do[0].copy", `stage "target" must be written pipeline/stage`}},
		},
		{
			name: "BadPattern",
			src:  head + "quality:\n  - rule: junk_field\n    patterns: ['^\\d+$', '([a-z']\n",
			want: []want{{14, "quality[0].patterns[1]", `bad pattern "([a-z"`}},
		},
		{
			name: "ExprIDIsCatalogueID",
			src:  head + "quality:\n  - {rule: expr, id: stage_sla, when: deal.amount > 0}\n",
			want: []want{{13, "quality[0].id", "id stage_sla is a catalogue rule id"}},
		},
		{
			name: "ExprWithoutWhen",
			src:  head + "quality:\n  - {rule: expr, id: paid}\n",
			want: []want{{13, "quality[0].when", "when is required"}},
		},
		{
			name: "WrongType",
			src:  head + "automations:\n  id: a\n  when: deal.won\n",
			want: []want{{13, "automations", "want a list, got a map"}},
		},
		{
			name: "ListWhereMapExpected",
			src:  head + "automations:\n  - [a, b]\n",
			want: []want{{13, "automations[0]", "want a map of keys, got a list"}},
		},
		{
			name: "UnknownTimezone",
			src:  "company: Септики\ntimezone: Europe/Moskva\n",
			want: []want{{2, "timezone", `unknown timezone "Europe/Moskva"`}},
		},
		{
			name: "BadSchedule",
			src:  "company: Септики\nusers:\n  - {id: roman, schedule: 3 через 3}\n",
			want: []want{{3, "users[0].schedule", `bad schedule "3 через 3"`}},
		},
		{
			// Saved on Windows, with a quoted name over two lines.
			name: "WindowsLineEnds",
			src:  "company: \"Септики\r\n  ООО\"\r\ntimezone: Europe/Moskva\r\n",
			want: []want{{3, "timezone", `unknown timezone "Europe/Moskva"`}},
		},
		{
			name: "MissingCompany",
			src:  "timezone: UTC\n",
			want: []want{{1, "company", "company is required"}},
		},
		{
			name: "YAMLSyntax",
			src:  "company: Септики\nusers: [{id: roman}\npipelines: []\n",
			want: []want{{3, "", "YAML syntax"}},
		},
		{
			name: "DuplicateKey",
			src:  "company: Септики\ncompany: Другая\n",
			want: []want{{2, "", `YAML syntax: mapping key "company" already defined`}},
		},
		{
			// Every mistake of the file is reported in one run, by line.
			name: "SeveralAtOnce",
			src: `company: Септики
users:
  - {id: roman, supervisor: sergei}
pipelines:
  - id: sales
    stages:
      - {id: target, sla: 7x}
      - {id: won, type: won}
automations:
  - {id: a, when: task.late, do: [notify: supervisor]}
  - {id: b, when: deal.won, do: [move: sales/contakt]}
quality:
  - {rule: no_next_step}
`,
			want: []want{
				{3, "users[0].supervisor", "unknown supervisor"},
				{6, "pipelines[0].stages", "no stage of type lost"},
				{7, "pipelines[0].stages[0].sla", "bad duration"},
				{10, "automations[0].when", "unknown trigger"},
				{11, "automations[1].do[0].move", "unknown stage"},
				{13, "quality[0].rule", "unknown rule"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := parseErrors(t, tc.src)
			if len(errs) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(tc.want), errs)
			}
			for i, w := range tc.want {
				if i >= len(errs) {
					break
				}
				e := errs[i]
				if e.Line != w.line || e.Key != w.key || !strings.Contains(e.Msg, w.msg) {
					t.Errorf("error %d = line %d, key %q, %q\nwant line %d, key %q, containing %q", i, e.Line, e.Key, e.Msg, w.line, w.key, w.msg)
				}
			}
		})
	}
}

func TestError_Format(t *testing.T) {
	e := &regulations.Error{Line: 12, Column: 20, Key: "pipelines[0].stages[1].sla", Msg: `bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`}
	if got, want := e.Error(), `line 12: pipelines[0].stages[1].sla: bad duration "7x" (use 90s, 15m, 2h, 1d, 7d)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	errs := regulations.Errors{e, {Line: 13, Msg: "YAML syntax: oops"}}
	if got, want := errs.Error(), e.Error()+"\nline 13: YAML syntax: oops"; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

// A file whose aliases expand to millions of nodes ("billion laughs") is
// refused with an error instead of being expanded.
func TestParse_AliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(head)
	b.WriteString("x-task: &t {notify: supervisor}\n")
	b.WriteString("x-do: &d [" + strings.Repeat("*t, ", 999) + "*t]\n")
	b.WriteString("x-auto: &a {id: a, when: deal.won, do: *d}\n")
	b.WriteString("automations: [" + strings.Repeat("*a, ", 999) + "*a]\n")
	errs := parseErrors(t, b.String())
	found := false
	for _, e := range errs {
		found = found || strings.Contains(e.Msg, "aliases expand too far")
	}
	if !found {
		t.Errorf("no error about the size:\n%v", errs[:min(len(errs), 5)])
	}
}

// An expression that does not parse is an error of check, with its line.
func TestBadExpressions(t *testing.T) {
	src := `company: X
pipelines:
  - id: sales
    stages:
      - {id: a}
      - {id: lost, type: lost}
automations:
  - id: m
    when: deal.created
    if: 'deal.amount >'
    do: [notify: [responsible]]
quality:
  - rule: expr
    id: paid
    when: 'deal.fields.paid == == true'
`
	_, err := regulations.Parse([]byte(src))
	var errs regulations.Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("errors = %v, want two", err)
	}
	if errs[0].Line != 10 || errs[0].Key != "automations[0].if" || !strings.Contains(errs[0].Msg, "bad condition") {
		t.Errorf("first error = %+v", errs[0])
	}
	if errs[1].Line != 15 || errs[1].Key != "quality[0].when" || !strings.Contains(errs[1].Msg, "bad condition") {
		t.Errorf("second error = %+v", errs[1])
	}
}
