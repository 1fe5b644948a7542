package demo

import "time"

// await plays how p gets to the task tk: it returns the moment p acts on
// it, or false when p never does (the task stays open and goes overdue,
// the deal hangs). On the way p may reschedule it again and again without
// calling anyone, or do it late.
func (d *deal) await(p *person, tk *task) (time.Time, bool) {
	g, r := d.g, d.r
	h := g.habitsOf(p, d.t)
	if chance(r, h.forget) {
		return d.t, false
	}
	if chance(r, h.reschedule) {
		for range 3 + r.IntN(3) {
			at := g.work(p, tk.due.Add(-minutes(r, 5, 60)))
			if !at.After(d.t) {
				at = d.t.Add(minutes(r, 1, 5))
			}
			if !d.reschedule(at, p.id, tk, g.due(p, at, minutes(r, 20*60, 28*60))) {
				return d.t, false
			}
		}
		if chance(r, 0.35) {
			return d.t, false
		}
	}
	if chance(r, h.late) {
		due := tk.due
		if due.Before(d.t) {
			due = d.t
		}
		return g.work(p, due.Add(minutes(r, 30, 26*60))), true
	}
	span := tk.due.Sub(d.t)
	if span < 0 {
		span = 0
	}
	return g.work(p, d.t.Add(time.Duration(float64(span)*(0.2+0.75*r.Float64())))), true
}

// maybeMissedCall plays, now and then, the client calling while the
// manager does not pick up, and the manager's callback: quick, late, or
// never — then the deal hangs and maybeMissedCall returns false.
func (d *deal) maybeMissedCall(m *person, tk *task) bool {
	r := d.r
	if !chance(r, 0.2) {
		return true
	}
	span := tk.due.Sub(d.t)
	if span < 20*time.Minute {
		return true
	}
	at := d.g.work(m, d.t.Add(time.Duration(float64(span)*(0.1+0.6*r.Float64()))))
	if !d.call(at, m.id, in, 0, false) {
		return false
	}
	delay := d.callback(m, at)
	if delay < 0 {
		return false
	}
	back := d.g.work(m, at.Add(delay))
	d.talk(back, m.id, out)
	return d.comment(d.t.Add(minutes(r, 1, 3)), m, pick(r, []string{
		"Перезвонил{а} на пропущенный: клиент уточнял срок и цену, ответил.",
		"Клиент звонил узнать статус заказа, перезвонил{а} и всё рассказал{а}.",
		"Перезвонил{а}: клиент спрашивал про гарантию и установку в выходные.",
	}))
}

// closeMass plays the mass closing: the manager, told that the main
// pipeline has too many deals, closes his whole pile as lost within a few
// minutes, mostly with a token reason (the seed: «Менеджеры поняли меня
// по-своему и просто закрыли часть сделок»).
func (g *gen) closeMass() {
	m := g.mass
	if m.at.IsZero() {
		return
	}
	g.mass = massClosing{} // the closing's own events are not cut by it
	p := g.person(m.user)
	t := m.at
	for _, d := range g.deals {
		// Cut by the closing, or hanging since before it (a deal that
		// hangs writes nothing more, so nothing cut it).
		hanging := !d.cut && d.open && d.pipeline == "sales" && d.resp == m.user && d.t.Before(m.at)
		if !d.massed && !hanging {
			continue
		}
		d.cut, d.massed = false, false
		reason := "неактуально"
		switch x := g.r.Float64(); {
		case x < 0.15:
			reason = ""
		case x < 0.25:
			reason = pick(g.r, lossEarly)
		}
		if d.move(t, p.id, "sales", "lost", reason) {
			d.lostCheck(t, true)
		}
		t = t.Add(time.Duration(8+g.r.IntN(11)) * time.Second)
	}
}
