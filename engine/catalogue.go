package engine

import "github.com/funnelwatch/funnelwatch/regulations"

// Text is a sentence in the product's two languages, Russian first.
type Text struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

// RuleText is what a finding of a rule says: what happened and what to
// do about it.
type RuleText struct {
	Message        Text
	Recommendation Text
}

// Catalogue holds the default message and recommendation of every rule of
// the quality catalogue. A rule in the regulations file may override them
// (message, recommendation); expression rules bring their own.
var Catalogue = map[string]RuleText{
	regulations.RuleNoNextTask: {
		Text{"По сделке нет ни одной открытой задачи — следующий шаг не запланирован", "The deal has no open task: no next step is planned"},
		Text{"Поставьте задачу со сроком: что и когда вы сделаете дальше по этой сделке", "Set a task with a due date: what you will do next on this deal, and when"}},
	regulations.RuleTaskOverdue: {
		Text{"Задача просрочена", "The task is overdue"},
		Text{"Выполните задачу или перенесите её, записав причину; если просрочек много — обсудите нагрузку с руководителем", "Do the task or reschedule it with a reason; if overdue tasks pile up, discuss the workload with your supervisor"}},
	regulations.RuleTaskNoDue: {
		Text{"У задачи нет срока", "The task has no due date"},
		Text{"Укажите срок: задача без срока никогда не станет просроченной и легко теряется", "Give it a due date: a task without one never falls overdue and is easily forgotten"}},
	regulations.RuleStageSLA: {
		Text{"Сделка находится на этапе дольше установленного срока", "The deal has been on the stage longer than its time limit"},
		Text{"Выполните целевое действие этапа и переведите сделку дальше, или закройте её с причиной", "Do what the stage is for and move the deal on, or close it with a reason"}},
	regulations.RulePipelineLifetime: {
		Text{"Сделка в воронке дольше допустимого срока жизни", "The deal has outlived the pipeline's lifetime"},
		Text{"Закройте сделку в успех или передайте её на прогрев", "Close the deal as won or hand it over to warm-up"}},
	regulations.RuleRequiredFields: {
		Text{"На этапе не заполнены обязательные поля", "Required fields of the stage are empty"},
		Text{"Заполните обязательные поля сделки: без них этап не считается пройденным", "Fill in the deal's required fields: without them the stage is not done"}},
	regulations.RuleJunkField: {
		Text{"В поле введено бессмысленное значение", "A field holds a meaningless value"},
		Text{"Впишите настоящие данные клиента вместо заглушки", "Enter the client's real data instead of a placeholder"}},
	regulations.RuleBackwardMove: {
		Text{"Сделку вернули на предыдущий этап воронки", "The deal was moved back to an earlier stage"},
		Text{"Проверьте, почему сделка пошла назад, и запишите причину в комментарии", "Check why the deal went backwards and write the reason in a comment"}},
	regulations.RuleLostWithoutReason: {
		Text{"Сделка закрыта как нереализованная без причины отказа", "The deal was lost without a loss reason"},
		Text{"Укажите причину отказа: по ним руководитель видит, где теряются клиенты", "Give the loss reason: the reasons show the head of sales where clients are lost"}},
	regulations.RuleLostTooFast: {
		Text{"Сделку закрыли в отказ слишком быстро, не попытавшись связаться с клиентом", "The deal was lost too soon, without an attempt to reach the client"},
		Text{"Перед отказом свяжитесь с клиентом: позвоните и запишите итог разговора", "Before giving up, reach the client: call and write down the outcome"}},
	regulations.RuleFirstResponse: {
		Text{"На новую заявку не ответили вовремя", "A new lead was not answered in time"},
		Text{"Связывайтесь с новым клиентом в первые минуты: так шанс продать в разы выше", "Contact a new lead within minutes: the chance of a sale is several times higher"}},
	regulations.RuleMissedCallCallback: {
		Text{"Не перезвонили на пропущенный звонок вовремя", "A missed call was not returned in time"},
		Text{"Перезванивайте на пропущенные сразу: клиент в это время выбирает между несколькими предложениями", "Return missed calls at once: meanwhile the client is choosing between offers"}},
	regulations.RuleCallWithoutUpdate: {
		Text{"После разговора с клиентом карточка сделки не изменилась", "After a call with the client the deal's card did not change"},
		Text{"Запишите итог разговора, поставьте следующую задачу или переведите этап", "Write down the outcome, set the next task or move the stage"}},
	regulations.RuleEmptyComment: {
		Text{"Комментарий без содержания («Связался»)", "A comment with no content («Связался»)"},
		Text{"Пишите конкретно: о чём договорились, какие возражения, что дальше", "Be specific: what was agreed, what objections, what comes next"}},
	regulations.RuleRescheduleWithoutCall: {
		Text{"Задачу переносят снова и снова, не позвонив клиенту", "The task is rescheduled again and again without a call to the client"},
		Text{"Позвоните клиенту до следующего переноса и запишите результат", "Call the client before rescheduling again and write down the result"}},
	regulations.RuleHighValueUnsupervised: {
		Text{"Крупная сделка без внимания руководителя", "A high-value deal without the supervisor's attention"},
		Text{"Руководителю стоит посмотреть сделку: поставить задачу или оставить комментарий", "The supervisor should look at the deal: set a task or leave a comment"}},
	regulations.RuleMassClosing: {
		Text{"Менеджер массово закрыл сделки за короткое время", "A manager closed many deals in a short time"},
		Text{"Проверьте закрытые сделки: не закрыты ли они, чтобы «почистить» воронку", "Check the closed deals: were they closed just to make the pipeline look short?"}},
	regulations.RuleAnomaly: {
		Text{"Показатель менеджера сильно отличается от команды", "The manager's figure is far from the team's"},
		Text{"Разберите причины с менеджером: нагрузка, навыки или процесс", "Go through the reasons with the manager: workload, skills or the process"}},
}

// TextOf returns the message and recommendation of a rule: the file's
// (in Russian, repeated for English) where it gives them, else the
// catalogue's.
func TextOf(r *regulations.QualityRule) RuleText {
	t := Catalogue[r.Rule]
	if r.Message != "" {
		t.Message = Text{r.Message, r.Message}
	}
	if r.Recommendation != "" {
		t.Recommendation = Text{r.Recommendation, r.Recommendation}
	}
	return t
}
