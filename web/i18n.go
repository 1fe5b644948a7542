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
	"nav.managers":                {"Менеджеры", "Managers"},
	"mgr.title":                   {"Менеджеры", "Managers"},
	"mgr.all":                     {"Все менеджеры", "All managers"},
	"mgr.figure":                  {"Показатель", "Figure"},
	"mgr.median":                  {"Медиана команды", "Team median"},
	"mgr.median_over":             {"Медиана по менеджерам", "Median over managers"},
	"mgr.previous":                {"Прошлый период", "Previous period"},
	"mgr.worse":                   {"хуже медианы", "worse than the median"},
	"mgr.worst":                   {"хуже всех", "the worst"},
	"mgr.note":                    {"Те же цифры отдаёт API /api/v1/reports/managers. Медиана — по всем менеджерам регламента; успешный контакт — отвеченный звонок от 40 секунд.", "The API /api/v1/reports/managers gives the same figures. The median is over every manager of the regulations; a successful contact is an answered call of 40 seconds or more."},
	"mgr.deals_handled":           {"Сделок в работе", "Deals handled"},
	"mgr.violations_per100":       {"Нарушений на 100 сделок", "Violations per 100 deals"},
	"mgr.violations_share":        {"Доля нарушений команды", "Share of the team's violations"},
	"mgr.remarks_per100":          {"Замечаний на 100 сделок", "Remarks per 100 deals"},
	"mgr.overdue_tasks":           {"Просроченных задач", "Overdue tasks"},
	"mgr.calls_in":                {"Входящих звонков", "Calls in"},
	"mgr.calls_out":               {"Исходящих звонков", "Calls out"},
	"mgr.calls_answered":          {"Отвеченных", "Answered"},
	"mgr.successful_contacts":     {"Успешных контактов", "Successful contacts"},
	"mgr.talk_time":               {"Время разговоров", "Talk time"},
	"mgr.avg_call":                {"Средний звонок", "Average call"},
	"mgr.callback":                {"Перезвон на пропущенный (медиана)", "Missed-call callback (median)"},
	"mgr.missed_not_returned":     {"Пропущенных без перезвона", "Missed, not returned"},
	"mgr.cards_changed":           {"Изменено карточек", "Cards changed"},
	"mgr.calls_per_card":          {"Звонков на изменённую карточку", "Calls per card changed"},
	"mgr.tasks_per_deal":          {"Задач на сделку", "Tasks per deal"},
	"mgr.win_rate":                {"Конверсия в успех", "Win rate"},
	"mgr.cycle":                   {"Цикл сделки (медиана)", "Cycle (median)"},
	"mgr.avg_check":               {"Средний чек", "Average check"},
	"mgr.revenue":                 {"Выручка", "Revenue"},
	"unit.s":                      {"с", "s"},
	"unit.d":                      {"дн.", "days"},
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
	"funnel.bad_period":           {"Неверный период, показана неделя", "Bad period, showing the week"},
	"funnel.ladder":               {"Лестница этапов: сделок сейчас", "The ladder: deals now"},
	"funnel.worst":                {"узкое место", "bottleneck"},
	"funnel.ladder_flag":          {"лестница нарушена", "broken ladder"},
	"funnel.ladder_hint":          {"На этапе больше сделок, чем на предыдущем", "The stage holds more deals than the one before"},
	"funnel.now":                  {"Сделок сейчас", "Deals now"},
	"funnel.entries":              {"Вошло", "Entries"},
	"funnel.exits":                {"Вышло", "Exits"},
	"funnel.conv_next":            {"Конверсия дальше", "To next"},
	"funnel.conv_won":             {"Конверсия в успех", "To won"},
	"funnel.avg":                  {"Время на этапе, среднее", "Time in stage, mean"},
	"funnel.p90":                  {"90-й перцентиль", "90th percentile"},
	"funnel.bottleneck":           {"Узкое место", "Bottleneck"},
	"funnel.bottleneck_hint":      {"Дней до разбора при текущем темпе выходов, делённое на срок этапа; больше 1 — этап не успевает", "Days to clear at the period's pace of exits, over the stage's time limit; above 1 the stage cannot keep up"},
	"funnel.stalled":              {"стоит", "stalled"},
	"funnel.stalled_hint":         {"Сделки есть, а за период ни одна не вышла", "Deals are there and none left in the period"},
	"funnel.note":                 {"Сделок сейчас и сумма — на сегодня; вход, выход и время на этапе — за период (в скобках — за предыдущий такой же); конверсия — доля вошедших за период, дошедших дальше или до успеха. Те же цифры отдаёт API /api/v1/reports/funnel.", "Deals now and the amount are as of today; entries, exits and times in stage are the period's (the previous period of equal length in brackets); conversion is the share of the period's entries that went further or to won. The API /api/v1/reports/funnel gives the same figures."},
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
	"deals.all_stages":            {"Все этапы", "All stages"},
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
