package reporting

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch/chart"
	"github.com/funnelwatch/funnelwatch/notify"
	"github.com/funnelwatch/funnelwatch/ru"
)

// chartBars is how many bars a chart shows at most.
const chartBars = 8

// Message renders the report for Telegram (HTML subset, charts as photos)
// and e-mail (HTML with the charts inline, and plain text). baseURL, when
// set, links the worst deals to their pages.
func (r *Report) Message(baseURL string) (notify.Message, error) {
	q := r.Quality
	title := "Контроль качества: " + r.Company
	span := r.span()
	subject := fmt.Sprintf("%s, %s: %d %s", title, span, q.Totals.Violations,
		ru.Plural(q.Totals.Violations, "нарушение", "нарушения", "нарушений"))

	var tg, mail, text strings.Builder
	esc := html.EscapeString
	line := func(html, plain string) {
		tg.WriteString(html + "\n")
		text.WriteString(plain + "\n")
	}
	line("<b>"+esc(title)+"</b>", title)
	line("<i>"+esc(span)+"</i>", span)
	line("", "")
	viol := fmt.Sprintf("Нарушения: %d (%s)", q.Totals.Violations, versus(q.Totals.Violations, q.Previous.Violations))
	line("<b>"+esc(viol)+"</b>", viol)
	rem := fmt.Sprintf("Замечания: %d (%s)", q.Totals.Remarks, versus(q.Totals.Remarks, q.Previous.Remarks))
	line(esc(rem), rem)
	per := fmt.Sprintf("На 100 активных сделок: %s нарушений (сделок в работе: %d)", ru.Decimal(q.Totals.Per100ActiveDeals), q.Totals.ActiveDeals)
	line(esc(per), per)
	risk := fmt.Sprintf("Открыто на конец периода: %d · деньги под риском: %s", q.Totals.Open, ru.Money(q.Totals.MoneyAtRisk))
	line(esc(risk), risk)

	section := func(name string, items []string) {
		if len(items) == 0 {
			return
		}
		line("", "")
		line("<b>"+esc(name)+"</b>", name)
		for _, it := range items {
			line("• "+esc(it), "• "+it)
		}
	}
	var stages, managers, rules []string
	var stageBars, managerBars []chart.Bar
	for _, s := range q.ByStage {
		if s.Violations == 0 {
			continue
		}
		if len(stages) < chartBars {
			stages = append(stages, fmt.Sprintf("%s — %d", s.Name, s.Violations))
			stageBars = append(stageBars, chart.Bar{Label: s.Name, Value: float64(s.Violations)})
		}
	}
	for _, m := range q.ByManager {
		if m.Violations == 0 {
			continue
		}
		if len(managers) < chartBars {
			managers = append(managers, fmt.Sprintf("%s — %d (%s%% команды, %s на 100 сделок)", m.Name, m.Violations,
				ru.Decimal(m.Share*100), ru.Decimal(m.Per100ActiveDeals)))
			managerBars = append(managerBars, chart.Bar{Label: m.Name, Value: float64(m.Violations)})
		}
	}
	for _, row := range q.ByRule[:min(topRules, len(q.ByRule))] {
		title := r.RuleTitles[row.Rule]
		if title == "" {
			title = row.Rule
		}
		rules = append(rules, fmt.Sprintf("%s — %d", title, row.Violations+row.Remarks))
	}
	section("По этапам", stages)
	section("По менеджерам", managers)
	section("Частые нарушения", rules)
	if len(r.Worst) > 0 {
		line("", "")
		line("<b>Сделки с наибольшим риском</b>", "Сделки с наибольшим риском")
		for _, w := range r.Worst {
			desc := fmt.Sprintf("%s, %s, %s под риском: %s", w.Stage, w.Responsible, ru.Money(w.MoneyAtRisk), strings.Join(w.Rules, "; "))
			name := "«" + w.Name + "»"
			if baseURL != "" {
				url := strings.TrimRight(baseURL, "/") + "/deals/" + w.ID
				line(fmt.Sprintf(`• <a href="%s">%s</a> — %s`, esc(url), esc(name), esc(desc)), "• "+name+" — "+desc+" ("+url+")")
			} else {
				line("• "+esc(name)+" — "+esc(desc), "• "+name+" — "+desc)
			}
		}
	}
	section("Рекомендации", r.Recommendations)

	var images []notify.Image
	if len(stageBars) > 0 {
		png, err := chart.Bars("Нарушения по этапам, "+span, stageBars, 900, 450, chart.Red)
		if err != nil {
			return notify.Message{}, err
		}
		images = append(images, notify.Image{Name: "stages.png", PNG: png, Caption: "Нарушения по этапам"})
	}
	if len(managerBars) > 0 {
		png, err := chart.Bars("Нарушения по менеджерам, "+span, managerBars, 900, 450, chart.Slate)
		if err != nil {
			return notify.Message{}, err
		}
		images = append(images, notify.Image{Name: "managers.png", PNG: png, Caption: "Нарушения по менеджерам"})
	}

	// The e-mail: the same lines as paragraphs, the charts inline.
	mail.WriteString(`<!DOCTYPE html><html lang="ru"><body style="font-family:sans-serif;max-width:900px">`)
	for _, l := range strings.Split(strings.TrimSpace(tg.String()), "\n") {
		if l == "" {
			mail.WriteString("<br>\n")
			continue
		}
		mail.WriteString("<div>" + l + "</div>\n")
	}
	for _, img := range images {
		fmt.Fprintf(&mail, `<p><img src="cid:%s" alt="%s" width="900"></p>`+"\n", img.Name, esc(img.Caption))
	}
	mail.WriteString("</body></html>\n")
	return notify.Message{Subject: subject, HTML: tg.String(), Text: text.String(), EmailHTML: mail.String(), Images: images}, nil
}

// span writes the period the way a head of sales says it: «неделя
// 16.11–22.11.2026», «23.11.2026».
func (r *Report) span() string {
	from, to := r.Quality.From.In(r.loc), r.Quality.To.In(r.loc)
	last := to.Add(-time.Nanosecond) // the period's last day
	switch {
	case from.Format("2006-01-02") == last.Format("2006-01-02"):
		return from.Format("02.01.2006")
	case r.Period == "week":
		return "неделя " + from.Format("02.01") + "–" + last.Format("02.01.2006")
	}
	return from.Format("02.01") + "–" + last.Format("02.01.2006")
}

// versus compares a figure with the previous period's: «было 98, +26 %».
func versus(now, before int) string {
	switch {
	case before == 0 && now == 0:
		return "как и в прошлом периоде"
	case before == 0:
		return "в прошлом периоде не было"
	}
	pct := math.Round(float64(now-before) / float64(before) * 100)
	sign := "+"
	if pct < 0 {
		sign = "−"
		pct = -pct
	}
	return fmt.Sprintf("было %d, %s%.0f%%", before, sign, pct)
}
