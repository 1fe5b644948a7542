package regulations

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the company's timezone must load on hosts without tzdata
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/funnelwatch/funnelwatch"
)

// DefaultTimezone is the company's timezone when the file names none.
const DefaultTimezone = "Europe/Moscow"

// ParseFile reads and checks the regulations file at path. A file that
// cannot be read gives that error; a file with problems gives Errors.
func ParseFile(path string) (*Regulations, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("regulations: %w", err)
	}
	return Parse(data)
}

// Parse reads and checks a regulations file (DESIGN §4.4). On any problem
// it returns a nil *Regulations and an Errors listing every problem found,
// sorted by line: YAML syntax, wrong types, unknown keys, bad values and
// references to stages, pipelines, users or roles that do not exist.
func Parse(data []byte) (*Regulations, error) {
	// A file saved on Windows ends its lines with \r\n, which go-yaml
	// counts twice inside a quoted text, throwing every later line
	// number off. YAML reads any line break as \n, so make them so.
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	file, err := parseYAML(data)
	if err != nil {
		return nil, Errors{syntaxError(err)}
	}
	c := &checker{
		decoder:   &decoder{},
		r:         &Regulations{Lifetimes: map[string]*LifetimeThen{}},
		userAt:    map[string]pos{},
		autoAt:    map[string]pos{},
		ruleAt:    map[string]pos{},
		pipelines: map[string]pos{},
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		switch doc.Body.(type) {
		case *ast.CommentGroupNode, *ast.DirectiveNode:
			continue // a file of comments, or a %YAML line before ---
		}
		if body != nil {
			c.errorf(posOf(doc.Body), "", "a regulations file is one YAML document; remove the second one (after ---)",
				"файл регламента — один документ YAML; удалите второй (после ---)")
			continue
		}
		body = doc.Body
	}
	c.collectAnchors(body)
	if root := c.asMap(body, "", pos{1, 1}); root != nil {
		c.top(root)
		c.checkRefs()
	} else if isNull(body) {
		c.errorf(pos{1, 1}, "company", "company is required (the file is empty)", "не указан company (файл пуст)")
	}
	if len(c.errs) > 0 {
		sortErrors(c.errs)
		return nil, c.errs
	}
	sortAutomations(c.r.Automations)
	return c.r, nil
}

// parseYAML runs go-yaml's parser, turning a panic inside it (a parser
// bug a fuzzer might find) into an error: a bad file must never take the
// server down.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, problemf("cannot read the file as YAML (%v)", "не удаётся прочитать файл как YAML (%v)", p)
		}
	}()
	return parser.ParseBytes(data, 0)
}

// syntaxError turns go-yaml's error into an Error at its line.
func syntaxError(err error) *Error {
	// go-yaml's text is English; the Russian leads it in with its own words.
	msg := text("YAML syntax: %s", "ошибка синтаксиса YAML: %s", err)
	e := &Error{Line: 1, Column: 1}
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg = text("YAML syntax: %s", "ошибка синтаксиса YAML: %s", ye.GetMessage())
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	e.Msg, e.MsgRU = msg.EN, msg.RU
	return e
}

// checker decodes a file into Regulations, remembering where things were
// declared so that duplicates and references can be reported by line.
type checker struct {
	*decoder
	r *Regulations

	users     []userMeta
	userAt    map[string]pos // user id → where declared
	pipelines map[string]pos // pipeline id → where declared
	autoAt    map[string]pos // automation id → where declared
	ruleAt    map[string]pos // quality rule id → where declared
	anomalyAt map[string]pos // anomaly metric ("" for all) → where declared
	refs      []ref
}

// userMeta is where a user and their supervisor key are, for the
// supervisor checks that need every user first.
type userMeta struct {
	path  string
	supAt pos
}

// top decodes the root map.
func (c *checker) top(m *mapping) {
	c.r.Company, _ = m.required("company")
	tz, e := m.str("timezone")
	if tz == "" {
		tz = DefaultTimezone
	}
	loc, err := loadLocation(tz)
	if err != nil {
		at := m.at
		if e != nil {
			at = e.valPos()
		}
		c.report(at, "timezone", err)
		loc = time.UTC // keep going so later errors are still found
	}
	c.r.Timezone, c.r.Location = tz, loc
	if s, e := m.str("working_hours"); e != nil {
		h, err := parseHours(s)
		if err != nil {
			c.report(e.valPos(), "working_hours", err)
		}
		c.r.WorkingHours = h
	}
	users, _ := m.list("users", false)
	c.decodeUsers(users)
	pipelines, _ := m.list("pipelines", false)
	c.decodePipelines(pipelines)
	autos, _ := m.list("automations", false)
	c.decodeAutomations(autos)
	rules, _ := m.list("quality", false)
	c.decodeQuality(rules)
	if e := m.get("notifications"); e != nil {
		c.decodeNotifications(e)
	}
	if reps, e := m.list("reports", false); e != nil {
		c.decodeReports(reps)
	}
	m.done("")
}

func loadLocation(name string) (*time.Location, error) {
	// "Local" would make the rules depend on the server's setting.
	if name == "Local" {
		return nil, problemf("unknown timezone %q (use an IANA name like Europe/Moscow)",
			"неизвестный часовой пояс %q (пишите название из базы IANA, например Europe/Moscow)", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, problemf("unknown timezone %q (use an IANA name like Europe/Moscow)",
			"неизвестный часовой пояс %q (пишите название из базы IANA, например Europe/Moscow)", name)
	}
	return loc, nil
}

// parseHours reads "09:00-21:00".
func parseHours(s string) (Hours, error) {
	from, to, ok := clockRange(s)
	if !ok {
		return Hours{}, problemf("bad working hours %q (use 09:00-21:00)", "неверные рабочие часы %q (пишите 09:00-21:00)", s)
	}
	if from >= to {
		return Hours{}, problemf("working hours %q end before they start", "рабочие часы %q заканчиваются раньше, чем начинаются", s)
	}
	return Hours{From: from, To: to}, nil
}

// clockRange reads "HH:MM-HH:MM" as minutes from midnight.
func clockRange(s string) (from, to int, ok bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, false
	}
	from, ok1 := clock(strings.TrimSpace(a))
	to, ok2 := clock(strings.TrimSpace(b))
	return from, to, ok1 && ok2
}

// decodeNotifications reads `notifications: {quiet_hours, digest: {over, within}}`.
func (c *checker) decodeNotifications(e *entry) {
	m := c.asMap(e.val, "notifications", e.at)
	if m == nil {
		return
	}
	n := &c.r.Notifications
	if s, qe := m.str("quiet_hours"); qe != nil {
		h, err := parseWindow(s)
		if err != nil {
			c.report(qe.valPos(), m.key("quiet_hours"), err)
		}
		n.QuietHours = h
	}
	if de := m.get("digest"); de != nil {
		if dm := c.asMap(de.val, m.key("digest"), de.at); dm != nil {
			for _, k := range []string{"over", "within"} {
				if !dm.has(k) {
					c.errorf(dm.at, dm.key(k), "%s is required (digest: {over: 5, within: 10m})",
						"не указан %s (digest: {over: 5, within: 10m})", k)
				}
			}
			n.DigestOver, _ = dm.integer("over", 1)
			n.DigestWithin, _ = dm.duration("within", true)
			dm.done("")
		}
	}
	m.done("")
}

// parseWindow reads a daily window that may span midnight ("21:00-09:00").
func parseWindow(s string) (Hours, error) {
	from, to, ok := clockRange(s)
	if !ok || from == to || to == 24*60 && from == 0 {
		return Hours{}, problemf("bad hours %q (use 21:00-09:00)", "неверные часы %q (пишите 21:00-09:00)", s)
	}
	return Hours{From: from, To: to % (24 * 60)}, nil
}

// clock reads "H:MM" or "HH:MM" as minutes from midnight; 24:00 is the end
// of the day.
func clock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, mm := 0, 0
	for _, r := range h {
		if r < '0' || r > '9' {
			return 0, false
		}
		hh = hh*10 + int(r-'0')
	}
	for _, r := range m {
		if r < '0' || r > '9' {
			return 0, false
		}
		mm = mm*10 + int(r-'0')
	}
	if mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// checkID reports an id that would break references: ids appear in
// "pipeline/stage" and "user:ID" forms and in URLs.
func (c *checker) checkID(e *entry, key, id string) bool {
	for _, r := range id {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.@", r) {
			c.errorf(e.valPos(), key, "bad id %q: use letters, digits and _ - . @", "неверный id %q: используйте буквы, цифры и _ - . @", id)
			return false
		}
	}
	return true
}

// unique records id in seen, or reports it as a duplicate.
func (c *checker) unique(seen map[string]pos, e *entry, key string, what funnelwatch.Text, id string) bool {
	if first, ok := seen[id]; ok {
		c.errorf(e.valPos(), key, "duplicate %s %s (first at line %d)", "повторяется %s %s (первый раз — в строке %d)", what, id, first.line)
		return false
	}
	seen[id] = e.valPos()
	return true
}

// oneOf reads an enumerated text key; def is used when it is absent.
func (c *checker) oneOf(m *mapping, k, def string, valid ...string) string {
	s, e := m.str(k)
	if e == nil {
		return def
	}
	for _, v := range valid {
		if s == v {
			return s
		}
	}
	c.errorf(e.valPos(), m.key(k), "unknown %s %q (valid: %s)", "недопустимое значение %s: %q (допустимые: %s)", k, s, strings.Join(valid, ", "))
	return def
}

// decodeUsers reads the users section; supervisors are checked once every
// user is known.
func (c *checker) decodeUsers(items []item) {
	for _, it := range items {
		m := c.asMap(it.node, it.path, it.at)
		if m == nil {
			continue
		}
		var u funnelwatch.User
		meta := userMeta{path: it.path}
		if id, e := m.required("id"); e != nil && c.checkID(e, m.key("id"), id) {
			if c.unique(c.userAt, e, m.key("id"), text("user id", "id пользователя"), id) {
				u.ID = id
			}
		}
		u.Name, _ = m.str("name")
		if u.Name == "" {
			u.Name = u.ID
		}
		u.Role = funnelwatch.Role(c.oneOf(m, "role", string(funnelwatch.RoleManager),
			string(funnelwatch.RoleAdmin), string(funnelwatch.RoleSupervisor), string(funnelwatch.RoleManager)))
		if s, e := m.str("supervisor"); e != nil {
			u.Supervisor, meta.supAt = s, e.valPos()
		}
		u.Team, _ = m.str("team")
		u.SalesRole = c.oneOf(m, "sales_role", "", funnelwatch.SalesRoleQualifier, funnelwatch.SalesRoleGenerator,
			funnelwatch.SalesRoleConverter, funnelwatch.SalesRoleFarmer, funnelwatch.SalesRoleWarmer)
		if s, e := m.str("schedule"); e != nil && s != "" {
			sch, err := parseSchedule(s, c.r.Location)
			if err != nil {
				c.report(e.valPos(), m.key("schedule"), err)
			}
			u.Schedule = sch
		}
		if s, e := m.str("telegram"); e != nil {
			if !validChat(s) {
				c.errorf(e.valPos(), m.key("telegram"), "bad Telegram chat id %q (a number like 100500, or @name)",
					"неверный id чата Telegram %q (число вроде 100500 или @name)", s)
			}
			u.Telegram = s
		}
		if s, e := m.str("email"); e != nil {
			if !validEmail(s) {
				c.errorf(e.valPos(), m.key("email"), "bad e-mail address %q", "неверный адрес e-mail %q", s)
			}
			u.Email = s
		}
		m.done("")
		if u.ID == "" {
			continue // reported; a user without an id cannot be referred to
		}
		c.r.Users = append(c.r.Users, u)
		c.users = append(c.users, meta)
	}
}

// parseSchedule reads a shift pattern "3/3 from 2026-11-01": ON working
// days, then OFF days off, cycling from the date (local midnight in loc).
func parseSchedule(s string, loc *time.Location) (funnelwatch.Schedule, error) {
	bad := problemf("bad schedule %q (use 3/3 from 2026-11-01, 2/2 from DATE or 5/2 from DATE)",
		"неверный график %q (пишите 3/3 from 2026-11-01, 2/2 from DATE или 5/2 from DATE)", s)
	pattern, date, ok := strings.Cut(strings.TrimSpace(s), " from ")
	if !ok {
		return funnelwatch.Schedule{}, bad
	}
	a, b, ok := strings.Cut(strings.TrimSpace(pattern), "/")
	on, err1 := strconv.Atoi(a)
	off, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || strings.ContainsAny(a+b, "+-") {
		return funnelwatch.Schedule{}, bad
	}
	if on < 1 || off < 0 || on+off > 366 {
		return funnelwatch.Schedule{}, problemf("bad schedule %q: want at least one working day and at most a year's cycle",
			"неверный график %q: нужен хотя бы один рабочий день, а цикл — не длиннее года", s)
	}
	day, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(date), loc)
	if err != nil {
		return funnelwatch.Schedule{}, problemf("bad schedule %q: the date must be YYYY-MM-DD", "неверный график %q: дата пишется как YYYY-MM-DD", s)
	}
	return funnelwatch.Schedule{OnDays: on, OffDays: off, Start: day}, nil
}

// validChat accepts a Telegram chat id: a (possibly negative) number or
// an @username.
func validChat(s string) bool {
	if strings.HasPrefix(s, "@") {
		return len(s) > 1 && !strings.ContainsAny(s, " \t/:")
	}
	t := strings.TrimPrefix(s, "-")
	if t == "" {
		return false
	}
	for _, r := range t {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
