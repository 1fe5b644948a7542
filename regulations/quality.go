package regulations

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Rules lists every quality rule id of the catalogue, and expr, in the
// order the docs present them.
var Rules = []string{
	RuleNoNextTask, RuleTaskOverdue, RuleTaskNoDue, RuleStageSLA, RulePipelineLifetime,
	RuleRequiredFields, RuleJunkField, RuleBackwardMove, RuleLostWithoutReason, RuleLostTooFast,
	RuleFirstResponse, RuleMissedCallCallback, RuleCallWithoutUpdate, RuleEmptyComment,
	RuleRescheduleWithoutCall, RuleHighValueUnsupervised, RuleMassClosing, RuleAnomaly, RuleExpr,
}

// ruleParams are the keys each rule takes besides the common ones; a
// parameter given to a rule that does not read it is an error, since the
// administrator clearly expected it to do something.
var ruleParams = map[string][]string{
	RuleRequiredFields:        {"fields"},
	RuleJunkField:             {"fields", "min_length", "patterns"},
	RuleLostTooFast:           {"limit"},
	RuleFirstResponse:         {"limit"},
	RuleMissedCallCallback:    {"limit"},
	RuleCallWithoutUpdate:     {"limit", "min_duration"},
	RuleEmptyComment:          {"limit", "min_length", "patterns"},
	RuleRescheduleWithoutCall: {"count"},
	RuleHighValueUnsupervised: {"amount", "limit"},
	RuleMassClosing:           {"count", "window"},
	RuleAnomaly:               {"metric", "threshold"},
	RuleExpr:                  {"id", "when"},
}

// Anomaly metrics: what a manager is compared with the team on.
const (
	MetricShortCalls = "short_calls"
	MetricLongCalls  = "long_calls"
	MetricLongCycle  = "long_cycle"
	MetricLowCheck   = "low_check"
)

// Metrics lists the anomaly metrics.
var Metrics = []string{MetricShortCalls, MetricLongCalls, MetricLongCycle, MetricLowCheck}

// DefaultEmptyCommentPatterns match a comment that says nothing beyond
// "I called" («Связался», «ок», «ндз»). Go's \W and \s are ASCII-only, so
// punctuation is matched with Unicode classes: Cyrillic letters must not
// count as "non-word".
var DefaultEmptyCommentPatterns = []string{
	`(?i)^[\s\p{Z}\p{P}\p{S}]*(связался|связалась|созвонились|позвонил|позвонила|перезвонил|перезвонила|перезвонить|ок|ok|нет ответа|ндз|не дозвонился|не дозвонилась|недозвон|сделано|готово)[\s\p{Z}\p{P}\p{S}]*$`,
}

// DefaultJunkPatterns flag a field value typed to get past a required
// field: only punctuation, a placeholder word, one character repeated,
// a run of consonants (keyboard mashing), or letters, digits and brackets
// mixed in one word like «s1nbvc[w/q».
var DefaultJunkPatterns = []string{
	`^[\s\p{Z}\p{P}\p{S}]+$`,
	`(?i)^\s*(test|тест|asdf|qwerty|йцукен|фыва|xxx+|ххх+|zzz+|n/?a|нет данных|123|1234|12345|111+|000+|\?+|-+|\.+)\s*$`,
	`(?i)^(a+|x+|z+|q+|а+|х+|ф+|0+|1+)$`,
	`(?i)[bcdfghjklmnpqrstvwxz]{6,}|[бвгджзйклмнпрстфхцчшщ]{6,}`, // six: Мкртчян has five
	`\p{L}\d\p{L}*[\[\]{}<>|\\^~]`,
}

// commonRuleKeys are the keys every quality rule takes.
var commonRuleKeys = []string{"rule", "severity", "grace", "pipelines", "pipeline", "stages", "stage", "message", "recommendation"}

// decodeQuality reads the quality section: catalogue rules with their
// parameters and defaults, and expression rules under their own ids.
func (c *checker) decodeQuality(items []item) {
	c.anomalyAt = map[string]pos{}
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		q := QualityRule{Line: m.at.line}
		rule, re := m.required("rule")
		known := slices.Contains(Rules, rule)
		if re != nil && !known {
			c.errorf(re.valPos(), m.key("rule"), "unknown rule %q (valid: %s)", "неизвестное правило %q (допустимые: %s)", rule, strings.Join(Rules, ", "))
		}
		q.Rule = rule
		q.Severity = Severity(c.oneOf(m, "severity", string(SeverityViolation), string(SeverityViolation), string(SeverityRemark)))
		q.Grace, _ = m.duration("grace", false)
		q.Pipelines = c.pipelineScope(m)
		q.Stages = c.ruleStages(m, q.Pipelines)
		q.Message, _ = m.str("message")
		q.Recommendation, _ = m.str("recommendation")
		if e := m.get("notify"); e != nil {
			q.Notify, q.NotifyChannel = c.notify(e, m.key("notify"))
		}
		if !known {
			// The parameters of an unknown rule cannot be judged; the rule
			// error says what to fix.
			for _, e := range m.entries {
				e.used = true
			}
			continue
		}
		c.ruleParams(m, &q)
		c.ruleDefaults(&q)
		c.ruleUnique(m, re, &q)
		c.strayParams(m, rule)
		m.done(rule)
		c.r.Quality = append(c.r.Quality, q)
	}
}

// ruleStages reads `stages: [refs]` or `stage: ref`.
func (c *checker) ruleStages(m *mapping, pipelines []string) []string {
	one, oe := m.str("stage")
	many, items := m.texts("stages", true)
	if oe != nil && m.has("stages") {
		c.errorf(oe.at, m.key("stage"), "write either stage or stages, not both", "укажите либо stage, либо stages, но не оба")
		return nil
	}
	if oe != nil {
		many, items = []string{one}, []item{{path: m.key("stage"), at: oe.valPos()}}
	}
	var out []string
	for i, s := range many {
		if ref := c.scopedStage(s, pipelines, items[i].path, items[i].at); ref != "" {
			out = append(out, ref)
		}
	}
	return out
}

// ruleParams reads the parameters rule q.Rule takes.
func (c *checker) ruleParams(m *mapping, q *QualityRule) {
	takes := func(k string) bool { return slices.Contains(ruleParams[q.Rule], k) }
	if takes("id") {
		if id, e := m.required("id"); e != nil && c.checkID(e, m.key("id"), id) {
			if slices.Contains(Rules, id) {
				c.errorf(e.valPos(), m.key("id"), "id %s is a catalogue rule id; give the expression rule its own id",
					"id %s занят правилом из каталога; дайте правилу-выражению свой id", id)
			} else {
				q.ID = id
			}
		}
	} else {
		q.ID = q.Rule
	}
	if takes("when") {
		var e *entry
		if q.When, e = m.required("when"); e != nil && q.When != "" {
			if err := checkExpr(q.When); err != nil {
				c.errorf(e.valPos(), m.key("when"), "bad condition: %v", "ошибка в условии: %v", err)
			}
		}
	}
	if takes("limit") {
		q.Limit, _ = m.duration("limit", true)
	}
	if takes("window") {
		q.Window, _ = m.duration("window", true)
	}
	if takes("min_duration") {
		q.MinDuration, _ = m.duration("min_duration", false)
	}
	if takes("count") {
		q.Count, _ = m.integer("count", 1)
	}
	if takes("min_length") {
		q.MinLength, _ = m.integer("min_length", 0)
	}
	if takes("amount") {
		q.Amount, _ = m.number("amount", 0)
	}
	if takes("threshold") {
		q.Threshold, _ = m.number("threshold", 1)
	}
	if takes("metric") {
		q.Metric = c.oneOf(m, "metric", "", Metrics...)
	}
	if takes("fields") {
		q.Fields, _ = m.texts("fields", true)
	}
	if takes("patterns") {
		pats, items := m.texts("patterns", true)
		for i, p := range pats {
			re, err := regexp.Compile(p)
			if err != nil {
				c.errorf(items[i].at, items[i].path, "bad pattern %q: %v", "ошибка в регулярном выражении %q: %v", p, err)
				continue
			}
			q.Patterns = append(q.Patterns, p)
			q.Regexps = append(q.Regexps, re)
		}
		if m.has("patterns") && len(pats) == 0 {
			c.errorf(m.lookup("patterns").at, m.key("patterns"), "patterns is empty: list regular expressions or remove the key",
				"patterns пуст: перечислите регулярные выражения или удалите ключ")
		}
	}
}

// ruleDefaults fills the parameters a rule needs when the file omits them.
func (c *checker) ruleDefaults(q *QualityRule) {
	setLimit := func(d time.Duration) {
		if q.Limit == 0 {
			q.Limit = d
		}
	}
	switch q.Rule {
	case RuleFirstResponse:
		setLimit(5 * time.Minute)
	case RuleMissedCallCallback:
		setLimit(15 * time.Minute)
	case RuleLostTooFast:
		setLimit(10 * time.Minute)
	case RuleCallWithoutUpdate:
		setLimit(time.Hour)
	case RuleEmptyComment:
		if q.MinLength == 0 {
			q.MinLength = 15
		}
		if q.Patterns == nil {
			q.Patterns, q.Regexps = compileAll(DefaultEmptyCommentPatterns)
		}
	case RuleJunkField:
		if q.MinLength == 0 {
			q.MinLength = 2
		}
		if q.Patterns == nil {
			q.Patterns, q.Regexps = compileAll(DefaultJunkPatterns)
		}
	case RuleRescheduleWithoutCall:
		if q.Count == 0 {
			q.Count = 3
		}
	case RuleMassClosing:
		if q.Count == 0 {
			q.Count = 10
		}
		if q.Window == 0 {
			q.Window = time.Hour
		}
	case RuleHighValueUnsupervised:
		if q.Amount == 0 {
			q.Amount = 100000
		}
		setLimit(24 * time.Hour)
	case RuleAnomaly:
		if q.Threshold == 0 {
			q.Threshold = 2
		}
	}
}

func compileAll(pats []string) ([]string, []*regexp.Regexp) {
	res := make([]*regexp.Regexp, len(pats))
	for i, p := range pats {
		res[i] = regexp.MustCompile(p) // the defaults are tested
	}
	return slices.Clone(pats), res
}

// ruleUnique reports a rule listed twice. anomaly may be listed once per
// metric (an anomaly rule without a metric covers them all).
func (c *checker) ruleUnique(m *mapping, re *entry, q *QualityRule) {
	if q.ID == "" || re == nil {
		return
	}
	at, key := re.valPos(), m.key("rule")
	if q.Rule == RuleExpr {
		if e := m.lookup("id"); e != nil {
			at, key = e.valPos(), m.key("id")
		}
	}
	if q.Rule == RuleAnomaly {
		if first, ok := c.anomalyConflict(q.Metric); ok {
			c.errorf(at, key, "rule anomaly is listed twice for the same metric (first at line %d)",
				"правило anomaly указано дважды для одной метрики (первый раз — в строке %d)", first.line)
			return
		}
		c.anomalyAt[q.Metric] = at
		return
	}
	if first, ok := c.ruleAt[q.ID]; ok {
		c.errorf(at, key, "rule %s is listed twice (first at line %d)", "правило %s указано дважды (первый раз — в строке %d)", q.ID, first.line)
		return
	}
	c.ruleAt[q.ID] = at
}

// strayParams reports a parameter of some other rule, naming the rules
// that do take it.
func (c *checker) strayParams(m *mapping, rule string) {
	for _, e := range m.entries {
		if e.used || slices.Contains(commonRuleKeys, e.key) {
			continue
		}
		var owners []string
		for _, r := range Rules {
			if slices.Contains(ruleParams[r], e.key) {
				owners = append(owners, r)
			}
		}
		if len(owners) == 0 {
			continue // an unknown key: done reports it
		}
		e.used = true
		c.errorf(e.at, m.key(e.key), "unknown key %s for rule %s (%s applies to %s)",
			"неизвестный ключ %s для правила %s (%s задаётся только для %s)", e.key, rule, e.key, strings.Join(owners, ", "))
	}
}

// anomalyConflict finds an earlier anomaly rule covering metric.
func (c *checker) anomalyConflict(metric string) (pos, bool) {
	if p, ok := c.anomalyAt[metric]; ok {
		return p, true
	}
	if p, ok := c.anomalyAt[""]; ok {
		return p, true
	}
	if metric != "" {
		return pos{}, false
	}
	var first pos
	for _, p := range c.anomalyAt {
		if first.line == 0 || p.line < first.line {
			first = p
		}
	}
	return first, first.line != 0
}

// Metrics returns the anomaly metrics the rule watches: its own, or all
// of them when it names none.
func (q *QualityRule) Metrics() []string {
	if q.Metric != "" {
		return []string{q.Metric}
	}
	return slices.Clone(Metrics)
}
