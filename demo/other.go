package demo

import (
	"fmt"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// warmup plays a deal on «Прогрев»: the warm-up manager finds out what the
// client needs and warms them; a client who is ready goes back to the main
// pipeline (back_to_sales) to a manager on shift.
func (d *deal) warmup(at time.Time) {
	g, r := d.g, d.r
	v := g.person(warmerID)
	tk := d.setTask(at, "", v.id, "Выявить потребность", funnelwatch.TaskCall, g.due(v, at, 24*time.Hour))
	if tk == nil {
		return
	}
	for round := 0; ; round++ {
		t, ok := d.await(v, tk)
		if !ok {
			return
		}
		if chance(r, 0.3) {
			d.noAnswer(t, v.id)
			t = g.work(v, t.Add(minutes(r, 90, 300)))
		}
		d.talk(t, v.id, out)
		t = d.t.Add(minutes(r, 1, 4))
		d.complete(t, v.id, tk, "Созвонились")
		d.comment(t, v, noteWarm(r))
		x := r.Float64()
		if round == 0 && x >= 0.55 && !d.move(t, v.id, "warmup", "warming", "") {
			return
		}
		switch {
		case x < 0.25:
			if !d.move(t, v.id, "warmup", "won", "") {
				return
			}
			m := g.pickManager(t)
			t = t.Add(time.Minute)
			if d.move(t, "", "sales", "contact", "") && d.assign(t, "", m.id) {
				d.onContact(m, g.work(m, t))
			}
			return
		case x < 0.55 || round == 3:
			d.lose(v, t, pick(r, lossWarm))
			return
		}
		tk = d.setTask(t, v.id, v.id, "Прогреть: напомнить о предложении", funnelwatch.TaskCall,
			g.due(v, t, minutes(r, 4*24*60, 8*24*60)))
		if tk == nil {
			return
		}
	}
}

// step is one stage of a service or wholesale deal: a task, done in time
// or not, then a move. It returns the moment the task was done, or false
// when the deal hangs.
func (d *deal) step(m *person, t time.Time, text, kind string, in time.Duration) (time.Time, *task, bool) {
	tk := d.setTask(t, m.id, m.id, text, kind, d.g.due(m, t, in))
	if tk == nil {
		return t, nil, false
	}
	at, ok := d.await(m, tk)
	return at, tk, ok
}

// wholesaleLead is a request of a corporate client: a service or a
// reseller buying in quantity.
func (g *gen) wholesaleLead(at time.Time) {
	r := g.r
	c := g.newClient("phone")
	company := pick(r, companies)
	c.name += ", " + company
	l := newLead(r)
	qty := 5 + r.IntN(36)
	l.item = item{name: fmt.Sprintf("Партия: %s, %d шт.", l.item.name, qty), lo: l.item.lo * float64(qty) * 0.7,
		hi: l.item.hi * float64(qty) * 0.7}
	d := g.newDeal(c, l)
	m := g.person("pavel") // the wholesale line: Dmitry on the first shift, Pavel on the second
	if p := g.person("dmitry"); p.onShift(g.companyDay(at)) {
		m = p
	}
	at = g.work(m, at)
	source := pick(r, []string{"site", "phone", "repeat"})
	if !d.create(at, m.id, "wholesale", "new", m.id, source, map[string]any{"company": company, "city": l.city}) {
		return
	}
	t, tk, ok := d.step(m, at, "Подготовить КП", funnelwatch.TaskFollowUp, 4*time.Hour)
	if !ok {
		return
	}
	amount := max(150000, l.item.price(r))
	d.update(t, m.id, &amount, nil)
	d.complete(t, m.id, tk, "КП отправлено")
	if !d.move(t, m.id, "wholesale", "offer", "") {
		return
	}
	d.note(t, m.id, fmt.Sprintf("Отправил{а} КП на %s: %d позиций, скидка опт 12%%, отгрузка ТК.", rub(amount), qty))
	if t, tk, ok = d.step(m, t, "Получить ответ по КП", funnelwatch.TaskCall, minutes(r, 24*60, 72*60)); !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 5))
	if chance(r, 0.3) {
		d.complete(t, m.id, tk, "Отказ по КП")
		d.lose(m, t, pick(r, lossOpt))
		return
	}
	d.complete(t, m.id, tk, "Согласовали, выставляю счёт")
	if !d.move(t, m.id, "wholesale", "invoice", "") {
		return
	}
	d.note(t, m.id, "Счёт выставлен, оплата по безналу, срок 3 банковских дня.")
	if t, tk, ok = d.step(m, t, "Проконтролировать оплату счёта", funnelwatch.TaskFollowUp, 72*time.Hour); !ok {
		return
	}
	if chance(r, 0.2) {
		d.complete(t, m.id, tk, "Оплаты нет, клиент отказался")
		d.lose(m, t, pick(r, lossOpt))
		return
	}
	d.update(t, m.id, nil, map[string]any{"paid": true})
	d.complete(t, m.id, tk, "Оплата поступила")
	if d.move(t, m.id, "wholesale", "won", "") {
		d.note(t, m.id, "Оплата "+rub(amount)+" поступила, партия отгружена в ТК.")
	}
}

// warrantyCase is a client coming back with a part under warranty.
func (g *gen) warrantyCase(at time.Time) {
	r := g.r
	c := g.newClient("phone")
	if len(g.won) > 0 && chance(r, 0.8) {
		c = pick(r, g.won).c
	}
	l := newLead(r)
	d := g.newDeal(c, l)
	m := g.pickManager(at)
	at = g.work(m, at)
	if !d.create(at, m.id, "warranty", "new", m.id, "phone", map[string]any{"part": l.item.name, "car": l.car}) {
		return
	}
	t, tk, ok := d.step(m, at, "Принять деталь на диагностику", funnelwatch.TaskMeeting, 24*time.Hour)
	if !ok {
		return
	}
	d.complete(t, m.id, tk, "Деталь принята")
	if !d.move(t, m.id, "warranty", "diagnostics", "") {
		return
	}
	if t, tk, ok = d.step(m, t, "Провести диагностику", funnelwatch.TaskFollowUp, 48*time.Hour); !ok {
		return
	}
	warranty := chance(r, 0.7)
	verdict := "Диагностика: заводской брак клапана, случай гарантийный."
	if !warranty {
		verdict = "Диагностика: следы механического повреждения, случай не гарантийный."
	}
	d.complete(t, m.id, tk, "Диагностика проведена")
	if !d.move(t, m.id, "warranty", "decision", "") {
		return
	}
	d.note(t, m.id, verdict)
	if t, tk, ok = d.step(m, t, "Сообщить клиенту решение", funnelwatch.TaskCall, 24*time.Hour); !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 4))
	d.complete(t, m.id, tk, "Клиент уведомлён")
	if warranty {
		d.move(t, m.id, "warranty", "won", "")
		return
	}
	d.lose(m, t, pick(r, lossService))
}

// buybackLead is a client selling a used part; a bought part goes on to
// «Квалификация деталей».
func (g *gen) buybackLead(at time.Time) {
	r := g.r
	l := newLead(r)
	d := g.newDeal(g.newClient("avito"), l)
	m := g.pickManager(at)
	at = g.work(m, at)
	if !d.create(at, m.id, "buyback", "new", m.id, "avito", map[string]any{"part": l.item.name, "car": l.car}) {
		return
	}
	t, tk, ok := d.step(m, at, "Оценить деталь по фото", funnelwatch.TaskFollowUp, 4*time.Hour)
	if !ok {
		return
	}
	price := float64(int(l.item.price(r)*0.25/100) * 100)
	d.update(t, m.id, &price, nil)
	d.complete(t, m.id, tk, "Оценено")
	if !d.move(t, m.id, "buyback", "evaluation", "") {
		return
	}
	d.note(t, m.id, "Оценили по фото в "+rub(price)+", корпус целый, нужна проверка на стенде.")
	if t, tk, ok = d.step(m, t, "Согласовать цену выкупа", funnelwatch.TaskCall, 24*time.Hour); !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 4))
	if chance(r, 0.35) {
		d.complete(t, m.id, tk, "Не сошлись в цене")
		d.lose(m, t, "не сошлись в цене")
		return
	}
	d.complete(t, m.id, tk, "Цена согласована")
	if !d.move(t, m.id, "buyback", "agreed", "") {
		return
	}
	if t, tk, ok = d.step(m, t, "Принять деталь на складе", funnelwatch.TaskMeeting, 48*time.Hour); !ok {
		return
	}
	d.complete(t, m.id, tk, "Деталь принята, деньги выданы")
	if d.move(t, m.id, "buyback", "won", "") {
		g.sortPart(l, m, t)
	}
}

// sortPart is a bought part being sorted: restored, or scrapped.
func (g *gen) sortPart(l lead, m *person, at time.Time) {
	r := g.r
	d := g.newDeal(client{}, l)
	if !d.create(at, m.id, "parts", "received", m.id, "buyback", map[string]any{"part": l.item.name, "car": l.car}) {
		return
	}
	t, tk, ok := d.step(m, at, "Проверить деталь на стенде", funnelwatch.TaskFollowUp, 24*time.Hour)
	if !ok {
		return
	}
	d.complete(t, m.id, tk, "Проверено")
	if !d.move(t, m.id, "parts", "sorting", "") {
		return
	}
	good := chance(r, 0.8)
	if good {
		d.note(t, m.id, "Годна к восстановлению: заменить манжету и клапан.")
	} else {
		d.note(t, m.id, "Корпус повреждён коррозией, восстановлению не подлежит.")
	}
	if t, tk, ok = d.step(m, t, "Определить маршрут детали", funnelwatch.TaskFollowUp, 24*time.Hour); !ok {
		return
	}
	d.complete(t, m.id, tk, "Маршрут определён")
	if good {
		d.move(t, m.id, "parts", "won", "")
		return
	}
	d.move(t, m.id, "parts", "lost", "не подлежит восстановлению")
}

// courierCall is the automatic «Курьеры» pipeline: a courier calls, the
// robot sends the way to the warehouse to WhatsApp. Nobody works in it.
func (g *gen) courierCall(at time.Time) {
	r := g.r
	c := g.newClient("phone")
	c.name = pick(r, []string{"Курьер СДЭК", "Курьер Яндекс Доставки", "Курьер Деловых Линий", "Курьер Dostavista"})
	d := g.newDeal(c, lead{item: item{name: "Забор груза со склада"}, car: "курьер"})
	if !d.create(at, "", "couriers", "new", "", "phone", nil) {
		return
	}
	d.call(at, "", in, 15+r.IntN(40), true)
	t := d.t.Add(minutes(r, 0.5, 2))
	d.note(t, "", "Отправлено в WhatsApp: схема проезда к складу, видео и телефон для связи.")
	d.move(t, "", "couriers", "sent", "")
}
