package web

import (
	"net/http"
	"strings"
)

// Languages of the pages; Russian is the default.
const (
	langRU = "ru"
	langEN = "en"
)

var languages = []string{langRU, langEN}

// msgs is the catalogue of every string the pages show, in both
// languages: key → {Russian, English}. TestCatalogue fails on a key
// without either, and on a key a template uses that is not here.
var msgs = map[string][2]string{
	"app.tagline":                 {"контроль качества воронки продаж", "sales-funnel quality control"},
	"nav.dashboard":               {"Дашборд", "Dashboard"},
	"nav.funnel":                  {"Воронка", "Funnel"},
	"nav.violations":              {"Нарушения", "Violations"},
	"nav.deals":                   {"Сделки", "Deals"},
	"nav.tasks":                   {"Мои задачи", "My tasks"},
	"nav.regulations":             {"Регламент", "Regulations"},
	"nav.signout":                 {"Выйти", "Sign out"},
	"nav.lang":                    {"English", "Русский"},
	"role.admin":                  {"администратор", "admin"},
	"role.supervisor":             {"руководитель", "supervisor"},
	"role.manager":                {"менеджер", "manager"},
	"signin.title":                {"Вход", "Sign in"},
	"signin.user":                 {"Логин", "Login"},
	"signin.password":             {"Пароль", "Password"},
	"signin.submit":               {"Войти", "Sign in"},
	"signin.bad":                  {"Неверный логин или пароль", "Wrong login or password"},
	"signin.slow":                 {"Слишком много неудачных попыток; подождите минуту", "Too many failed attempts; wait a minute"},
	"signin.expired":              {"Форма устарела, попробуйте ещё раз", "The form has expired; try again"},
	"signin.demo":                 {"Демо: логины команды", "Demo: the team's logins"},
	"signin.demo_note":            {"Пароли показаны только в демо-режиме.", "Passwords are shown in demo mode only."},
	"signin.as":                   {"Войти", "Sign in"},
	"err.notfound":                {"Не найдено", "Not found"},
	"err.notfound_text":           {"Такой страницы нет, или у вас нет к ней доступа.", "There is no such page, or you have no access to it."},
	"err.forbidden":               {"Запрос отклонён: форма устарела или пришла с другого сайта.", "Request refused: the form is stale or came from another site."},
	"err.back":                    {"На дашборд", "To the dashboard"},
	"dash.title":                  {"Дашборд", "Dashboard"},
	"dash.period":                 {"Неделя", "Week"},
	"dash.vs_prev":                {"прошлая неделя", "previous week"},
	"dash.violations":             {"Нарушения за неделю", "Violations this week"},
	"dash.remarks":                {"Замечания за неделю", "Remarks this week"},
	"dash.open":                   {"Открыто сейчас", "Open now"},
	"dash.money":                  {"Деньги под риском", "Money at risk"},
	"dash.per100":                 {"На 100 активных сделок", "Per 100 active deals"},
	"dash.notask":                 {"Сделки без следующей задачи", "Deals without a next task"},
	"dash.overdue":                {"Просроченные задачи сейчас", "Overdue tasks now"},
	"dash.by_stage":               {"Нарушения по этапам", "Violations by stage"},
	"dash.by_manager":             {"Нарушения по менеджерам", "Violations by manager"},
	"dash.by_rule":                {"Нарушения по правилам", "Violations by rule"},
	"dash.trend":                  {"Динамика по дням", "Trend by day"},
	"dash.share":                  {"Доля", "Share"},
	"dash.none":                   {"Нарушений за неделю нет", "No violations this week"},
	"col.stage":                   {"Этап", "Stage"},
	"col.manager":                 {"Менеджер", "Manager"},
	"col.rule":                    {"Правило", "Rule"},
	"col.violations":              {"Нарушений", "Violations"},
	"col.remarks":                 {"Замечаний", "Remarks"},
	"col.open":                    {"Открыто", "Open"},
	"col.money":                   {"Под риском", "At risk"},
	"col.deals":                   {"Сделок", "Deals"},
	"col.amount":                  {"Сумма", "Amount"},
	"col.opened":                  {"Открыто", "Opened"},
	"col.resolved":                {"Закрыто", "Resolved"},
	"col.deal":                    {"Сделка", "Deal"},
	"col.what":                    {"Что не так", "What is wrong"},
	"col.due":                     {"Срок", "Due"},
	"col.task":                    {"Задача", "Task"},
	"col.per100":                  {"На 100 сделок", "Per 100 deals"},
	"col.active":                  {"Активных сделок", "Active deals"},
	"funnel.title":                {"Воронки и этапы", "Pipelines and stages"},
	"funnel.events":               {"Событий в журнале", "Events in the log"},
	"funnel.open":                 {"В работе", "Open"},
	"funnel.critical":             {"КЭВ", "KEY"},
	"funnel.critical_hint":        {"Критический этап (КЭВ)", "Critical stage"},
	"viol.title":                  {"Нарушения", "Violations"},
	"viol.filter":                 {"Показать", "Filter"},
	"viol.reset":                  {"Сбросить", "Reset"},
	"viol.any":                    {"все", "any"},
	"viol.status":                 {"Статус", "Status"},
	"viol.open":                   {"открытые", "open"},
	"viol.resolved":               {"закрытые", "resolved"},
	"viol.severity":               {"Вид", "Kind"},
	"viol.from":                   {"С", "From"},
	"viol.to":                     {"По", "To"},
	"viol.found":                  {"Найдено", "Found"},
	"viol.evidence":               {"Основание", "Evidence"},
	"viol.recommendation":         {"Что сделать", "What to do"},
	"viol.empty":                  {"Ничего не найдено", "Nothing found"},
	"viol.prev":                   {"← Назад", "← Previous"},
	"viol.next":                   {"Дальше →", "Next →"},
	"viol.page":                   {"Страница", "Page"},
	"sev.violation":               {"нарушение", "violation"},
	"sev.remark":                  {"замечание", "remark"},
	"deals.title":                 {"Сделки", "Deals"},
	"deals.sla_over":              {"дольше срока этапа", "past the stage's time limit"},
	"deals.no_task":               {"нет открытой задачи", "no open task"},
	"deals.only_notask":           {"Только без задачи", "Without a task only"},
	"deals.all":                   {"Все сделки", "All deals"},
	"deals.more":                  {"ещё", "more"},
	"deals.sla":                   {"Срок этапа", "Stage time limit"},
	"deals.on_stage":              {"на этапе", "on the stage"},
	"deal.fields":                 {"Поля", "Fields"},
	"deal.pipeline":               {"Воронка", "Pipeline"},
	"deal.status":                 {"Статус", "Status"},
	"deal.responsible":            {"Ответственный", "Responsible"},
	"deal.contact":                {"Контакт", "Contact"},
	"deal.source":                 {"Источник", "Source"},
	"deal.created":                {"Создана", "Created"},
	"deal.stage_entered":          {"На этапе с", "On the stage since"},
	"deal.tasks":                  {"Задачи", "Tasks"},
	"deal.calls":                  {"Звонки", "Calls"},
	"deal.notes":                  {"Комментарии", "Notes"},
	"deal.timeline":               {"История", "Timeline"},
	"deal.violations":             {"Нарушения по сделке", "The deal's violations"},
	"deal.complete":               {"Выполнить", "Complete"},
	"deal.result":                 {"Результат", "Result"},
	"deal.done":                   {"выполнена", "done"},
	"deal.overdue":                {"просрочена", "overdue"},
	"deal.add_note":               {"Добавить комментарий", "Add a note"},
	"deal.new_task":               {"Поставить задачу", "Set a task"},
	"deal.task_text":              {"Что сделать", "What to do"},
	"deal.task_kind":              {"Тип", "Kind"},
	"deal.move":                   {"Перевести на этап", "Move to stage"},
	"deal.loss_reason":            {"Причина отказа (для «нереализовано»)", "Loss reason (for a lost stage)"},
	"deal.save":                   {"Сохранить", "Save"},
	"deal.rejected":               {"Не сохранено", "Not saved"},
	"deal.none":                   {"нет", "none"},
	"deal.in":                     {"входящий", "incoming"},
	"deal.out":                    {"исходящий", "outgoing"},
	"deal.answered":               {"отвечен", "answered"},
	"deal.missed":                 {"не отвечен", "missed"},
	"deal.by":                     {"кто", "by"},
	"status.open":                 {"в работе", "open"},
	"status.won":                  {"успешно", "won"},
	"status.lost":                 {"нереализовано", "lost"},
	"kind.call":                   {"звонок", "call"},
	"kind.meeting":                {"встреча", "meeting"},
	"kind.follow-up":              {"связаться", "follow-up"},
	"kind.control":                {"контроль", "control"},
	"ev.deal.created":             {"Сделка создана", "Deal created"},
	"ev.deal.stage_changed":       {"Этап изменён", "Stage changed"},
	"ev.deal.updated":             {"Сделка изменена", "Deal updated"},
	"ev.deal.responsible_changed": {"Сменён ответственный", "Responsible changed"},
	"ev.deal.deleted":             {"Сделка удалена", "Deal deleted"},
	"ev.task.created":             {"Задача поставлена", "Task created"},
	"ev.task.completed":           {"Задача выполнена", "Task completed"},
	"ev.task.rescheduled":         {"Задача перенесена", "Task rescheduled"},
	"ev.task.deleted":             {"Задача удалена", "Task deleted"},
	"ev.call":                     {"Звонок", "Call"},
	"ev.note.added":               {"Комментарий", "Note"},
	"tasks.title":                 {"Мои задачи", "My tasks"},
	"tasks.team":                  {"Задачи команды", "The team's tasks"},
	"tasks.show_team":             {"Показать задачи команды", "Show the team's tasks"},
	"tasks.show_mine":             {"Только мои", "Mine only"},
	"tasks.overdue":               {"Просроченные", "Overdue"},
	"tasks.today":                 {"Сегодня", "Today"},
	"tasks.upcoming":              {"Предстоящие", "Upcoming"},
	"tasks.nodue":                 {"Без срока", "No due date"},
	"tasks.empty":                 {"Задач нет", "No tasks"},
	"regs.title":                  {"Регламент", "Regulations"},
	"regs.timezone":               {"Часовой пояс", "Timezone"},
	"regs.users":                  {"Команда", "Team"},
	"regs.pipelines":              {"Воронки", "Pipelines"},
	"regs.automations":            {"Автоматизации (роботы)", "Automations (robots)"},
	"regs.rules":                  {"Правила качества", "Quality rules"},
	"regs.when":                   {"Когда", "When"},
	"regs.do":                     {"Что делает", "What it does"},
	"regs.scope":                  {"Где", "Where"},
	"regs.grace":                  {"Допуск", "Grace"},
	"regs.supervisor":             {"Руководитель", "Supervisor"},
	"regs.role":                   {"Роль", "Role"},
	"regs.everywhere":             {"везде", "everywhere"},
	"regs.lifetime":               {"Срок жизни сделки", "Deal lifetime"},
	"regs.type":                   {"Тип", "Type"},
	"stage.open":                  {"в работе", "open"},
	"stage.won":                   {"успех", "won"},
	"stage.lost":                  {"отказ", "lost"},
}

// tr returns the string of key in lang; a missing key shows as ⟦key⟧,
// which the tests look for.
func tr(lang, key string) string {
	m, ok := msgs[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if lang == langEN {
		return m[1]
	}
	return m[0]
}

// langCookie keeps the chosen language.
const langCookie = "fw_lang"

// language picks the page's language: ?lang= (which also sets the
// cookie), then the cookie, then Russian.
func language(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == langRU || l == langEN {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == langRU || c.Value == langEN) {
		return c.Value
	}
	return langRU
}

// switchURL is the current page in the other language.
func switchURL(r *http.Request, lang string) string {
	other := langEN
	if lang == langEN {
		other = langRU
	}
	q := r.URL.Query()
	q.Set("lang", other)
	return r.URL.Path + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}
