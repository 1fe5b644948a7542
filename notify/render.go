package notify

import (
	"context"
	"fmt"
	"html"
	"strings"

	"github.com/funnelwatch/funnelwatch"
	"github.com/funnelwatch/funnelwatch/engine"
	"github.com/funnelwatch/funnelwatch/regulations"
	"github.com/funnelwatch/funnelwatch/ru"
)

// titles say, per trigger, what happened (Russian first: the users'
// language).
var titles = map[regulations.Trigger]string{
	regulations.TriggerDealCreated:        "Новая сделка",
	regulations.TriggerStageEntered:       "Сделка перешла на этап",
	regulations.TriggerFieldChanged:       "Изменено поле сделки",
	regulations.TriggerResponsibleChanged: "Сменился ответственный",
	regulations.TriggerTaskOverdue:        "Просрочена задача",
	regulations.TriggerDealIdle:           "Сделка без движения",
	regulations.TriggerStageSLA:           "Сделка дольше срока на этапе",
	regulations.TriggerLifetime:           "Сделка дольше срока в воронке",
	regulations.TriggerCallMissed:         "Пропущенный звонок",
	regulations.TriggerDealWon:            "Сделка выиграна",
	regulations.TriggerDealLost:           "Сделка проиграна",
	regulations.TriggerSchedule:           "Напоминание по регламенту",
	regulations.TriggerFinding:            "Нарушение регламента",
}

func esc(s string) string { return html.EscapeString(s) }

// render writes the notice of an action from the deal and task as they are
// now.
func (n *Notifier) render(ctx context.Context, a *funnelwatch.ActionRecord, v *engine.ActionView) (Message, error) {
	if n.Sync != nil {
		if err := n.Sync(ctx); err != nil {
			return Message{}, err
		}
	}
	var deal *funnelwatch.Deal
	var task *funnelwatch.Task
	err := n.Store.View(ctx, n.Workspace, func(tx funnelwatch.ReadTx) error {
		if a.DealID != "" {
			d, err := tx.Deal(ctx, a.DealID)
			if err != nil && funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				return err
			}
			deal = d
		}
		if v.TaskID != "" {
			t, err := tx.Task(ctx, v.TaskID)
			if err != nil && funnelwatch.ErrorCode(err) != funnelwatch.ENOTFOUND {
				return err
			}
			task = t
		}
		return nil
	})
	if err != nil {
		return Message{}, err
	}
	loc := n.location()
	title := titles[regulations.Trigger(v.Trigger)]
	if title == "" {
		title = "Уведомление по регламенту"
	}
	type line struct{ label, value string }
	var lines []line
	subject := title
	if deal != nil {
		name := deal.Name
		if name == "" {
			name = deal.ID
		}
		subject += ": «" + name + "»"
		value := "«" + name + "»"
		if deal.Amount > 0 {
			value += " — " + ru.Money(deal.Amount)
		}
		lines = append(lines, line{"Сделка", value})
		if st, ok := n.Regs.ResolveStage("", deal.Pipeline+"/"+deal.Stage); ok {
			p, _ := n.Regs.Pipeline(deal.Pipeline)
			lines = append(lines, line{"Этап", p.Name + " → " + st.Name})
		}
		if deal.Responsible != "" {
			lines = append(lines, line{"Ответственный", n.Regs.UserName(deal.Responsible)})
		}
		if deal.LossReason != "" && v.Trigger == string(regulations.TriggerDealLost) {
			lines = append(lines, line{"Причина отказа", deal.LossReason})
		}
	}
	if task != nil {
		value := "«" + task.Text + "»"
		if task.Due != nil {
			value += ", срок " + task.Due.In(loc).Format("02.01 15:04")
		}
		if task.Assignee != "" && (deal == nil || task.Assignee != deal.Responsible) {
			value += ", исполнитель " + n.Regs.UserName(task.Assignee)
		}
		lines = append(lines, line{"Задача", value})
	}
	if v.Trigger == string(regulations.TriggerFinding) && v.Text != "" {
		// A quality rule's notice: what is wrong, in the rule's words.
		subject = v.Text + strings.TrimPrefix(subject, title)
		lines = append([]line{{"Что не так", v.Text}}, lines...)
	}
	lines = append(lines, line{"Когда", a.At.In(loc).Format("02.01.2006 15:04")})
	lines = append(lines, line{"Правило", v.Rule})

	var h, t strings.Builder
	h.WriteString("<b>" + esc(title) + "</b>\n")
	t.WriteString(title + "\n")
	for _, l := range lines {
		fmt.Fprintf(&h, "%s: %s\n", esc(l.label), esc(l.value))
		fmt.Fprintf(&t, "%s: %s\n", l.label, l.value)
	}
	if n.BaseURL != "" && deal != nil {
		url := strings.TrimRight(n.BaseURL, "/") + "/deals/" + deal.ID
		fmt.Fprintf(&h, "<a href=\"%s\">Открыть сделку</a>\n", esc(url))
		fmt.Fprintf(&t, "Открыть сделку: %s\n", url)
	}
	return Message{Subject: subject, HTML: h.String(), Text: t.String()}, nil
}
