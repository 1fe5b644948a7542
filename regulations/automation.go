package regulations

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// actionKinds in the order the docs list them, for messages.
var actionKinds = []ActionKind{ActionTask, ActionMove, ActionAssign, ActionNotify, ActionMessage, ActionCopy, ActionWebhook}

// Task kinds (DESIGN §3); follow-up is the default.
var taskKinds = []string{"call", "meeting", "follow-up", "control"}

// NotifyChannels are the channels a notify action may name.
var NotifyChannels = []string{"telegram", "email"}

// Message channels of the messenger gateway.
var messageChannels = []string{"whatsapp", "telegram", "sms"}

func triggerList() string {
	s := make([]string, len(Triggers))
	for i, t := range Triggers {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// decodeAutomations reads the automations section. Keys that only one
// trigger takes (field, idle, cron) are errors under another trigger.
func (c *checker) decodeAutomations(items []item) {
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		a := Automation{Line: m.at.line}
		id, ide := m.required("id")
		if ide != nil && c.checkID(ide, m.key("id"), id) && c.unique(c.autoAt, ide, m.key("id"), text("automation id", "id автоматизации"), id) {
			a.ID = id
		}
		known := false
		if w, e := m.required("when"); e != nil {
			a.When = Trigger(w)
			if known = slices.Contains(Triggers, a.When); !known {
				c.errorf(e.valPos(), m.key("when"), "unknown trigger %q (valid: %s)", "неизвестный триггер %q (допустимые: %s)", w, triggerList())
			}
		}
		a.Pipelines = c.pipelineScope(m)
		scope := ""
		if len(a.Pipelines) == 1 {
			scope = a.Pipelines[0]
		}
		if s, e := m.str("stage"); e != nil {
			a.Stage = c.scopedStage(s, a.Pipelines, m.key("stage"), e.valPos())
			if p, _, ok := strings.Cut(a.Stage, "/"); ok && scope == "" {
				scope = p // a bare stage in the actions means the trigger's pipeline
			}
		}

		// Keys that belong to one trigger: written elsewhere they would be
		// ignored, which is worse than an error.
		a.Field = c.triggerText(m, "field", known, a.When, TriggerFieldChanged)
		if e := m.get("idle"); e != nil && known && a.When != TriggerDealIdle {
			c.errorf(e.at, m.key("idle"), "idle applies only to when: %s", "idle действует только при when: %s", TriggerDealIdle)
		} else if e != nil {
			a.Idle, _ = c.durationOf(e.val, m.key("idle"), "idle", true)
		} else if a.When == TriggerDealIdle {
			c.errorf(m.at, m.key("idle"), "idle is required for when: %s (how long without activity, e.g. 3d)",
				"для when: %s нужен idle (сколько времени без активности, например 3d)", TriggerDealIdle)
		}
		a.Cron = c.triggerText(m, "cron", known, a.When, TriggerSchedule)
		if a.Cron != "" {
			e := m.lookup("cron")
			if cr, err := ParseCron(a.Cron); err != nil {
				c.report(e.valPos(), m.key("cron"), err)
			} else {
				a.Schedule = cr
			}
		} else if a.When == TriggerSchedule && !m.has("cron") {
			c.errorf(m.at, m.key("cron"), "cron is required for when: schedule (e.g. \"0 9 * * MON\")",
				"для when: schedule нужен cron (например, \"0 9 * * MON\")")
		}
		a.After, _ = m.duration("after", false)
		if s, e := m.str("if"); e != nil {
			if s == "" {
				c.errorf(e.valPos(), m.key("if"), "if is empty: write a condition or remove the key",
					"if пуст: напишите условие или удалите ключ")
			} else if err := checkExpr(s); err != nil {
				c.errorf(e.valPos(), m.key("if"), "bad condition: %v", "ошибка в условии: %v", err)
			}
			a.If = s
		}
		do, de := m.list("do", false)
		if de == nil || (isSeq(de.val) && len(do) == 0) {
			at := m.at
			if de != nil {
				at = de.at
			}
			c.errorf(at, m.key("do"), "do is required: a list of actions (%s)", "не указан do: список действий (%s)", kindList())
		}
		a.Do = c.actions(do, scope)
		m.done("")
		if a.ID != "" {
			c.r.Automations = append(c.r.Automations, a)
		}
	}
}

// triggerText reads a key that only one trigger takes.
func (c *checker) triggerText(m *mapping, k string, known bool, when, owner Trigger) string {
	s, e := m.str(k)
	if e == nil {
		return ""
	}
	if known && when != owner {
		c.errorf(e.at, m.key(k), "%s applies only to when: %s", "%s действует только при when: %s", k, owner)
		return ""
	}
	if s == "" {
		c.errorf(e.valPos(), m.key(k), "%s must not be empty", "ключ %s не может быть пустым", k)
	}
	return s
}

// pipelineScope reads `pipeline: id` or `pipelines: [ids]`.
func (c *checker) pipelineScope(m *mapping) []string {
	one, oe := m.str("pipeline")
	many, items := m.texts("pipelines", true)
	if oe != nil && m.has("pipelines") {
		c.errorf(oe.at, m.key("pipeline"), "write either pipeline or pipelines, not both",
			"укажите либо pipeline, либо pipelines, но не оба")
		return nil
	}
	if oe != nil {
		c.ref(refPipeline, m.key("pipeline"), oe.valPos(), one)
		return []string{one}
	}
	for i, p := range many {
		c.ref(refPipeline, items[i].path, items[i].at, p)
	}
	return many
}

// scopedStage qualifies a stage reference against a pipeline scope: a bare
// stage id is allowed when the scope is exactly one pipeline, and a
// qualified one must fall inside the scope.
func (c *checker) scopedStage(s string, pipelines []string, key string, at pos) string {
	scope := ""
	if len(pipelines) == 1 {
		scope = pipelines[0]
	}
	ref := c.stageRef(s, scope, key, at)
	if p, _, ok := strings.Cut(ref, "/"); ok && len(pipelines) > 0 && !slices.Contains(pipelines, p) {
		c.errorf(at, key, "stage %q is outside the pipelines given (%s)",
			"этап %q не входит в указанные воронки (%s)", ref, strings.Join(pipelines, ", "))
	}
	return ref
}

// stageRef checks the form of a stage reference and returns it pipeline-
// qualified; whether the stage exists is checked once every pipeline is
// read. scope is the pipeline a bare stage id belongs to ("" if none).
func (c *checker) stageRef(s, scope, key string, at pos) string {
	if s == "" {
		c.errorf(at, key, "empty stage reference (use pipeline/stage)", "пустая ссылка на этап (пишите pipeline/stage)")
		return ""
	}
	if p, st, ok := strings.Cut(s, "/"); ok {
		if p == "" || st == "" || strings.Contains(st, "/") {
			c.errorf(at, key, "bad stage reference %q (use pipeline/stage)", "неверная ссылка на этап %q (пишите pipeline/stage)", s)
			return ""
		}
		c.ref(refStage, key, at, s)
		return s
	}
	if scope == "" {
		c.errorf(at, key, "stage %q must be written pipeline/stage here (no single pipeline to take it from)",
			"этап %q здесь нужно писать как pipeline/stage (нет одной воронки, к которой его отнести)", s)
		return ""
	}
	ref := scope + "/" + s
	c.ref(refStage, key, at, ref)
	return ref
}

func kindList() string {
	s := make([]string, len(actionKinds))
	for i, k := range actionKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// actions reads a `do` or `on_enter` list. Each item is a map of one key,
// the action's kind; YAML's flow form [move: x, assign: y] gives two.
func (c *checker) actions(items []item, scope string) []Action {
	var out []Action
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		if len(m.entries) != 1 {
			c.errorf(m.at, it.path, "an action is a map of one key (%s); put each action in its own list item",
				"действие — это один ключ (%s); каждое действие пишите отдельным элементом списка", kindList())
			for _, e := range m.entries {
				e.used = true
			}
			continue
		}
		e := m.entries[0]
		e.used = true
		key := m.key(e.key)
		a := Action{Kind: ActionKind(e.key), Line: e.at.line}
		if !slices.Contains(actionKinds, a.Kind) {
			c.errorf(e.at, key, "unknown action %s (valid: %s)", "неизвестное действие %s (допустимые: %s)", e.key, kindList())
			continue
		}
		if isNull(e.val) {
			c.errorf(e.at, key, "%s needs a value", "для %s нужно значение", e.key)
			continue
		}
		if c.action(&a, e, key, scope) {
			out = append(out, a)
		}
	}
	return out
}

// notify reads a notify value: a recipient, a list of them, or
// {to: [...], channel: telegram|email}. The file's automations and quality
// rules write it the same way.
func (c *checker) notify(e *entry, key string) ([]Recipient, string) {
	n0 := len(c.errs)
	val, channel := e.val, ""
	if _, ok := val.(*ast.MappingNode); ok {
		m := c.asMap(val, key, e.at)
		if m == nil {
			return nil, ""
		}
		channel = c.oneOf(m, "channel", "", NotifyChannels...)
		te := m.get("to")
		m.done("")
		if te == nil {
			c.errorf(m.at, m.key("to"), "to is required (notify: {to: [supervisor], channel: email})",
				"не указан to (notify: {to: [supervisor], channel: email})")
			return nil, channel
		}
		val, key = te.val, m.key("to")
	}
	var to []Recipient
	for _, it := range c.asList(val, key, true) {
		if s, ok := c.scalar(it.node, it.path); ok {
			if r, ok := c.assignee(s, it.path, it.at, true); ok {
				to = append(to, r)
			}
		}
	}
	if len(to) == 0 && len(c.errs) == n0 {
		c.errorf(e.valPos(), key, "notify needs at least one recipient", "в notify нужен хотя бы один получатель")
	}
	return to, channel
}

// action fills a from its value; it reports false when the value is bad.
func (c *checker) action(a *Action, e *entry, key, scope string) bool {
	n0 := len(c.errs)
	switch a.Kind {
	case ActionTask:
		a.Task = c.task(e, key)
	case ActionMove, ActionCopy:
		if s, ok := c.scalar(e.val, key); ok {
			a.MoveTo = c.stageRef(s, scope, key, e.valPos())
		}
	case ActionAssign:
		if s, ok := c.scalar(e.val, key); ok {
			a.Assign, _ = c.assignee(s, key, e.valPos(), false)
		}
	case ActionNotify:
		a.Notify, a.NotifyChannel = c.notify(e, key)
	case ActionMessage:
		a.Message = &MessageSpec{}
		if _, ok := e.val.(*ast.SequenceNode); !ok && !isMap(e.val) {
			a.Message.Template, _ = c.scalar(e.val, key)
		} else if m := c.asMap(e.val, key, e.at); m != nil {
			a.Message.Template, _ = m.required("template")
			a.Message.Channel = c.oneOf(m, "channel", "", messageChannels...)
			m.done("")
		}
		if a.Message.Template == "" && len(c.errs) == n0 {
			c.errorf(e.valPos(), key, "message needs a template", "в message нужен шаблон (template)")
		}
	case ActionWebhook:
		var u string
		var at pos
		if isMap(e.val) {
			if m := c.asMap(e.val, key, e.at); m != nil {
				var ue *entry
				if u, ue = m.required("url"); ue != nil {
					at = ue.valPos()
				}
				m.done("")
			}
		} else if s, ok := c.scalar(e.val, key); ok {
			u, at = s, e.valPos()
		}
		if u != "" {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				c.errorf(at, key, "bad webhook URL %q (want http:// or https://)",
					"неверный адрес вебхука %q (нужен http:// или https://)", u)
			}
			a.Webhook = &WebhookSpec{URL: u}
		}
	}
	return len(c.errs) == n0
}

func isSeq(n ast.Node) bool {
	_, ok := n.(*ast.SequenceNode)
	return ok
}

func isMap(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// task reads `task: {text, due, assignee, kind, working_hours}`.
func (c *checker) task(e *entry, key string) *TaskSpec {
	m := c.asMap(e.val, key, e.at)
	if m == nil {
		return nil
	}
	t := &TaskSpec{Assignee: Assignee{Kind: AssignResponsible}, Kind: "follow-up"}
	t.Text, _ = m.required("text")
	if !m.has("due") {
		c.errorf(m.at, m.key("due"), "due is required (how long the assignee has, e.g. 15m)",
			"не указан due (сколько времени у исполнителя, например 15m)")
	}
	t.Due, _ = m.duration("due", true)
	if s, ae := m.str("assignee"); ae != nil {
		t.Assignee, _ = c.assignee(s, m.key("assignee"), ae.valPos(), false)
	}
	t.Kind = c.oneOf(m, "kind", "follow-up", taskKinds...)
	t.WorkingHours = m.boolean("working_hours")
	m.done("")
	return t
}

// assignee reads an assignee (or, with recipient, a recipient) reference.
// Users and roles are checked once every user is read.
func (c *checker) assignee(s, key string, at pos, recipient bool) (Assignee, bool) {
	switch s {
	case string(AssignResponsible):
		return Assignee{Kind: AssignResponsible}, true
	case string(AssignSupervisor):
		return Assignee{Kind: AssignSupervisor}, true
	}
	kind, val, ok := strings.Cut(s, ":")
	val = strings.TrimSpace(val)
	a := Assignee{Kind: AssigneeKind(kind), Value: val}
	if ok && val == "" {
		c.errorf(at, key, "%q names nobody: write %s:NAME", "в %q никто не указан: пишите %s:NAME", s, kind)
		return Assignee{}, false
	}
	switch {
	case ok && a.Kind == AssignUser:
		c.ref(refUser, key, at, val)
		return a, true
	case ok && (a.Kind == AssignRole || a.Kind == AssignRoundRobin):
		c.ref(refRole, key, at, val)
		return a, true
	case ok && recipient && a.Kind == AssignChat:
		if !validChat(val) {
			c.errorf(at, key, "bad Telegram chat id %q (a number like -100500, or @name)",
				"неверный id чата Telegram %q (число вроде -100500 или @name)", val)
			return Assignee{}, false
		}
		return a, true
	case ok && recipient && a.Kind == AssignEmail:
		if !validEmail(val) {
			c.errorf(at, key, "bad e-mail address %q", "неверный адрес e-mail %q", val)
			return Assignee{}, false
		}
		return a, true
	case ok && !recipient && (a.Kind == AssignChat || a.Kind == AssignEmail):
		c.errorf(at, key, "%s is a recipient, not an assignee (use responsible, supervisor, user:ID, role:NAME, round_robin:NAME)",
			"%s — это получатель уведомлений, а не исполнитель (пишите responsible, supervisor, user:ID, role:NAME, round_robin:NAME)", s)
		return Assignee{}, false
	}
	forms := "responsible, supervisor, user:ID, role:NAME, round_robin:NAME"
	if recipient {
		forms += ", chat:ID, email:ADDRESS"
	}
	what := text("assignee", "исполнитель")
	if recipient {
		what = text("recipient", "получатель")
	}
	c.errorf(at, key, "unknown %s %q (use %s)", "неизвестный %s %q (пишите %s)", what, s, forms)
	return Assignee{}, false
}

// validEmail accepts a bare address, user@host.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
