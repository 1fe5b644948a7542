package demo

import (
	"time"

	"github.com/funnelwatch/funnelwatch"
)

const (
	in  = funnelwatch.DirectionIn
	out = funnelwatch.DirectionOut
)

// avitoLead is a chat from Avito: the qualifier answers, filters the
// non-target ones out and hands the rest to a manager on shift, moving the
// deal to «Целевой клиент» of the main pipeline.
func (g *gen) avitoLead(at time.Time) {
	l := newLead(g.r)
	d := g.newDeal(g.newClient("avito"), l)
	k := g.person(qualifierID)
	r := d.r
	if !d.create(at, "", "avito", "new", k.id, "avito", map[string]any{"city": l.city}) {
		return
	}
	tk := d.setTask(at, "", k.id, "Ответить в чате Авито и квалифицировать обращение", funnelwatch.TaskFollowUp,
		g.due(k, at, 15*time.Minute))
	t := g.work(k, at.Add(lognormal(r, k.h.respond, 2)))
	d.note(t, k.id, "Ответил в чате Авито: клиент спрашивает «"+l.item.name+"» на "+l.car+", уточняю год и комплектацию.")
	t = t.Add(minutes(r, 2, 11))
	if chance(r, 0.18) {
		d.complete(t, k.id, tk, "Нецелевое обращение")
		d.move(t, k.id, "avito", "lost", pick(r, lossAvito))
		return
	}
	d.update(t, k.id, nil, map[string]any{"car": l.car, "part": l.item.name})
	d.complete(t, k.id, tk, "Квалифицирован, передаю в продажи")
	d.move(t, k.id, "avito", "qualified", "")
	t = t.Add(minutes(r, 1, 12))
	m := g.pickManager(t)
	d.assign(t, k.id, m.id)
	if d.move(t, k.id, "sales", "target", "") {
		d.enterSales(m, t, lognormal(r, g.habitsOf(m, t).respond, 2.2), false)
	}
}

// phoneLead is a call to the sales line; the telephony opens the deal on
// the manager the call rang. Missed, it waits for the manager's callback.
func (g *gen) phoneLead(at time.Time) {
	l := newLead(g.r)
	d := g.newDeal(g.newClient("phone"), l)
	m := g.pickManager(at)
	r := d.r
	if !d.create(at, "", "sales", "target", m.id, "phone", map[string]any{"city": l.city}) {
		return
	}
	if chance(r, 0.015) {
		d.duplicate(m, at)
		return
	}
	if g.working(m, at) && chance(r, 0.8) {
		d.talk(at, m.id, in)
		d.enterSales(m, at, 0, true)
		return
	}
	d.call(at, m.id, in, 0, false)
	d.enterSales(m, at, d.callback(m, at), false)
}

// siteLead is a form from the site.
func (g *gen) siteLead(at time.Time) {
	l := newLead(g.r)
	d := g.newDeal(g.newClient("site"), l)
	m := g.pickManager(at)
	r := d.r
	fields := map[string]any{"city": l.city, "comment": "Заявка с сайта: «" + l.item.name + "», " + l.car}
	if !d.create(at, "", "sales", "target", m.id, "site", fields) {
		return
	}
	if chance(r, 0.02) {
		d.duplicate(m, at)
		return
	}
	d.enterSales(m, at, lognormal(r, g.habitsOf(m, at).respond, 2.2), false)
}

// repeatLead is a client who bought before and calls their manager again.
func (g *gen) repeatLead(at time.Time) {
	var past []wonClient
	for _, w := range g.won {
		if w.at.Before(at.AddDate(0, 0, -10)) {
			past = append(past, w)
		}
	}
	if len(past) == 0 {
		g.siteLead(at)
		return
	}
	c := pick(g.r, past).c
	l := newLead(g.r)
	d := g.newDeal(c, l)
	m := g.pickManager(at)
	at = g.work(m, at)
	if d.create(at, m.id, "sales", "target", m.id, "repeat", map[string]any{"city": l.city}) {
		d.talk(at, m.id, in)
		d.enterSales(m, at, 0, true)
	}
}

// duplicate is a lead the client already left elsewhere: the manager
// removes it.
func (d *deal) duplicate(m *person, at time.Time) {
	tk := d.setTask(at, "", m.id, "Получить контакт клиента", funnelwatch.TaskCall, d.g.due(m, at, 15*time.Minute))
	t := d.g.work(m, at.Add(minutes(d.r, 3, 30)))
	d.deleteTask(t, m.id, tk)
	d.remove(t, m.id)
}

// callback returns how long m takes to return a missed call at at; -1:
// never.
func (d *deal) callback(m *person, at time.Time) time.Duration {
	h := d.g.habitsOf(m, at)
	switch {
	case chance(d.r, h.neverBack):
		return -1
	case chance(d.r, h.slowBack):
		return minutes(d.r, 42, 200)
	}
	return min(lognormal(d.r, 5, 1.7), 30*time.Minute)
}

// enterSales plays the deal from its entry on «Целевой клиент» at at with
// m responsible: the robot's first task, then the first call after delay
// (-1: never), unless talked says the first talk already happened.
func (d *deal) enterSales(m *person, at time.Time, delay time.Duration, talked bool) {
	g, r := d.g, d.r
	tk := d.setTask(at, "", m.id, "Получить контакт клиента", funnelwatch.TaskCall, g.due(m, at, 15*time.Minute))
	if tk == nil || delay < 0 {
		return // never called back: the task goes overdue, the deal hangs
	}
	t := at.Add(minutes(r, 1, 4))
	if talked {
		d.complete(t, m.id, tk, "Поговорил{а} с клиентом, потребность выяснена")
	} else {
		t = g.work(m, at.Add(delay))
		for attempt := 1; ; attempt++ {
			if chance(r, 0.75) {
				d.talk(t, m.id, out)
				t = d.t.Add(minutes(r, 1, 5))
				d.complete(t, m.id, tk, "Дозвонил{ся}, выяснил{а} потребность")
				break
			}
			d.noAnswer(t, m.id)
			t = t.Add(minutes(r, 0.5, 2))
			if chance(r, g.habitsOf(m, t).hangTarget) {
				d.complete(t, m.id, tk, "Не дозвонил{ся}")
				if chance(r, 0.5) {
					d.note(t, m.id, pick(r, []string{"перезвонить", "недозвон", "Связал{ся}"}))
				}
				return // no next task: the deal hangs on «Целевой клиент»
			}
			if attempt == 3 {
				d.complete(t, m.id, tk, "Не дозвонил{ся} трижды")
				d.lose(m, t, "не дозвонились")
				return
			}
			d.complete(t, m.id, tk, "Не дозвонил{ся}, перезвоню")
			tk = d.setTask(t, m.id, m.id, "Перезвонить клиенту", funnelwatch.TaskCall, g.due(m, t, minutes(r, 60, 180)))
			if tk == nil {
				return
			}
			var ok bool
			if t, ok = d.await(m, tk); !ok {
				return
			}
		}
	}
	if !d.move(t, m.id, "sales", "contact", "") {
		return
	}
	d.comment(t, m, noteContact(r, d.lead))
	d.onContact(m, t)
}

// onContact: pick the part and tell the price.
func (d *deal) onContact(m *person, t time.Time) {
	g, r := d.g, d.r
	tk := d.setTask(t, m.id, m.id, "Подобрать деталь и озвучить цену", funnelwatch.TaskFollowUp, g.due(m, t, minutes(r, 90, 240)))
	if tk == nil || !d.maybeMissedCall(m, tk) {
		return
	}
	t, ok := d.await(m, tk)
	if !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 6))
	if chance(r, 0.15) {
		d.complete(t, m.id, tk, "Клиент отказался")
		d.lose(m, t, pick(r, lossEarly))
		return
	}
	h := g.habitsOf(m, t)
	fields := map[string]any{"car": d.lead.car, "part": d.lead.item.name}
	if chance(r, h.junk) {
		fields[pick(r, []string{"car", "part"})] = pick(r, junkValues)
	}
	amount := d.lead.item.price(r)
	if chance(r, h.noAmount) {
		d.update(t, m.id, nil, fields) // the amount is left for later, or never
	} else {
		d.update(t, m.id, &amount, fields)
	}
	d.complete(t, m.id, tk, "Цена озвучена")
	if d.move(t, m.id, "sales", "qualified", "") {
		d.comment(t, m, noteQualified(r, d.lead, amount))
		d.onQualified(m, t, false)
	}
}

// onQualified: agree the order — or the client waits, or goes away.
func (d *deal) onQualified(m *person, t time.Time, again bool) {
	g, r := d.g, d.r
	tk := d.setTask(t, m.id, m.id, "Согласовать заказ и предоплату", funnelwatch.TaskCall, g.due(m, t, minutes(r, 4*60, 24*60)))
	if tk == nil || !d.maybeMissedCall(m, tk) {
		return
	}
	t, ok := d.await(m, tk)
	if !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 5))
	switch x := r.Float64(); {
	case x < 0.45 || again:
		d.complete(t, m.id, tk, "Клиент подтвердил заказ")
		d.order(m, t)
	case x < 0.72:
		d.complete(t, m.id, tk, "Клиент пока не готов")
		reason, text := noteWaiting(r)
		d.update(t, m.id, nil, map[string]any{"wait_reason": reason})
		if d.move(t, m.id, "sales", "waiting", "") {
			d.comment(t, m, text)
			d.onWaiting(m, t, reason)
		}
	default:
		d.complete(t, m.id, tk, "Отказ")
		d.lose(m, t, pick(r, lossPrice))
	}
}

// order: the part is ordered (sometimes prepaid) and awaited.
func (d *deal) order(m *person, t time.Time) {
	g, r := d.g, d.r
	h := g.habitsOf(m, t)
	if chance(r, 0.4) {
		d.update(t, m.id, nil, map[string]any{"paid": true, "prepayment": 0.3})
		if chance(r, h.paidStuck) {
			d.note(t, m.id, "Предоплата получена")
			return // paid, but left on «Квалификация проведена» without a task
		}
	}
	d.comment(t, m, noteOrdered(r, d.lead))
	arrive := g.work(m, t.Add(minutes(r, 18*60, 3*24*60)))
	tk := d.setTask(t, m.id, m.id, "Проконтролировать поступление детали", funnelwatch.TaskFollowUp, arrive.Add(time.Hour))
	if tk == nil {
		return
	}
	t, ok := d.await(m, tk)
	if !ok {
		return
	}
	if t.Before(arrive) {
		t = arrive
	}
	d.complete(t, m.id, tk, "Деталь поступила на склад")
	d.onReady(m, t)
}

// onReady: the goods wait on «Готов к выдаче» for the client to pay and
// take them — the stage of the seed's «кладбище сделок».
func (d *deal) onReady(m *person, t time.Time) {
	g, r := d.g, d.r
	h := g.habitsOf(m, t)
	if !d.move(t, m.id, "sales", "ready", "") || chance(r, h.hangReady) {
		return // no task, nobody calls: the deal hangs with its money
	}
	tk := d.setTask(t, m.id, m.id, "Сообщить о готовности и получить оплату", funnelwatch.TaskCall, g.due(m, t, 2*time.Hour))
	if tk == nil || !d.maybeMissedCall(m, tk) {
		return
	}
	t, ok := d.await(m, tk)
	if !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 4))
	if chance(r, h.backward) {
		d.complete(t, m.id, tk, "Клиент хочет другую комплектацию")
		if d.move(t, m.id, "sales", "qualified", "") { // backwards
			d.comment(t, m, "Клиент передумал по комплектации, пересчитываю заказ.")
			d.onQualified(m, t, true)
		}
		return
	}
	if chance(r, 0.12) {
		d.complete(t, m.id, tk, "Клиент не берёт трубку после уведомления")
		d.lose(m, t, pick(r, lossReady))
		return
	}
	d.complete(t, m.id, tk, "Клиент приедет за заказом")
	visit := g.work(m, t.Add(minutes(r, 60, 2.5*24*60)))
	tk = d.setTask(t, m.id, m.id, "Выдать заказ клиенту", funnelwatch.TaskMeeting, visit.Add(30*time.Minute))
	if tk == nil {
		return
	}
	t = visit
	if d.amount == 0 {
		amount := d.lead.item.price(r)
		d.update(t, m.id, &amount, nil)
	}
	d.update(t, m.id, nil, map[string]any{"paid": true})
	d.complete(t, m.id, tk, "Выдано, оплачено")
	if d.move(t, m.id, "sales", "won", "") {
		d.note(t, m.id, noteWon(r, d.amount))
		g.won = append(g.won, wonClient{d.client, t})
	}
}

// onWaiting: «База ожидания» — the manager calls again in a few days; a
// client who still is not ready goes to warm-up at the Monday review.
func (d *deal) onWaiting(m *person, t time.Time, reason string) {
	g, r := d.g, d.r
	tk := d.setTask(t, m.id, m.id, "Связаться повторно: "+reason, funnelwatch.TaskCall, g.due(m, t, minutes(r, 2*24*60, 5*24*60)))
	if tk == nil {
		return
	}
	t, ok := d.await(m, tk)
	if !ok {
		return
	}
	d.talk(t, m.id, out)
	t = d.t.Add(minutes(r, 1, 4))
	switch x := r.Float64(); {
	case x < 0.33:
		d.complete(t, m.id, tk, "Клиент готов купить")
		d.order(m, t)
		return
	case x < 0.6:
		d.complete(t, m.id, tk, "Отказ")
		d.lose(m, t, pick(r, lossWarm))
		return
	}
	d.complete(t, m.id, tk, "Не готов, просил набрать позже")
	d.comment(t, m, "Клиент пока не готов ("+reason+"), договорились созвониться на следующей неделе.")
	review := d.enteredPipeline.AddDate(0, 0, 7)
	if review.Before(t) {
		review = t
	}
	monday := g.midnight(review)
	for monday.Weekday() != time.Monday || !monday.After(review) {
		monday = monday.AddDate(0, 0, 1)
	}
	head := g.person(headID)
	at := monday.Add(10*time.Hour + minutes(r, 0, 70))
	tk = d.setTask(t, m.id, m.id, "Связаться повторно", funnelwatch.TaskCall, g.due(m, at, 24*time.Hour))
	d.deleteTask(at, head.id, tk)
	if d.move(at, head.id, "warmup", "new", "") && d.assign(at, head.id, warmerID) {
		d.warmup(at)
	}
}

// lose closes the deal as lost (without the reason when the manager's
// habits say so) and plays the robot's check by the head of sales.
func (d *deal) lose(m *person, t time.Time, reason string) {
	g, r := d.g, d.r
	if chance(r, g.habitsOf(m, t).noReason) {
		reason = ""
	}
	if !d.move(t, m.id, d.pipeline, "lost", reason) || d.pipeline != "sales" {
		return
	}
	d.lostCheck(t, false)
}

// lostCheck is the robot's task for the head of sales to check a loss.
func (d *deal) lostCheck(t time.Time, bulk bool) {
	g, r := d.g, d.r
	head := g.person(headID)
	tk := d.setTask(t, "", head.id, "Проверить корректность отказа", funnelwatch.TaskControl, t.Add(24*time.Hour))
	if tk == nil {
		return
	}
	at := g.work(head, t.Add(minutes(r, 30, 8*60)))
	if bulk {
		at = g.work(head, g.midnight(t).AddDate(0, 0, 1).Add(9*time.Hour+minutes(r, 20, 40)))
		d.complete(at, head.id, tk, "Ок")
		return
	}
	if chance(r, 0.03) && !d.reopened && d.resp != "" {
		d.reopened = true
		m := g.person(d.resp)
		d.complete(at, head.id, tk, "Отказ некорректный, вернул в работу")
		if d.move(at, head.id, "sales", "contact", "") { // reopened: a backward move
			d.note(at, head.id, "Клиент не отказывался, просто не дозвонились. Вернул в работу, перезвонить сегодня.")
			d.onContact(m, at)
		}
		return
	}
	d.complete(at, head.id, tk, pick(r, []string{"Отказ корректный", "Проверил, причина подтверждается", "Ок"}))
}
