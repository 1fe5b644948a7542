package demo

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// gen is the state of one generation. Every random choice comes from r,
// in a fixed order, so that the same options give the same history.
type gen struct {
	r          *rand.Rand
	loc        *time.Location
	start, end time.Time
	perDay     float64

	team       []*person
	converters []*person // the sales managers, in file order
	rr         int       // round-robin position for new leads

	deals  []*deal
	ids    map[byte]int    // next number per id prefix
	phones map[string]bool // numbers given out, to keep clients apart
	won    []wonClient     // clients who bought, for repeat sales and warranty
	mass   massClosing
}

// wonClient is a client who bought, and when.
type wonClient struct {
	c  client
	at time.Time
}

// massClosing is the moment one manager closes his whole pile of deals.
type massClosing struct {
	user string
	at   time.Time
}

func newGen(opts Options, loc *time.Location) *gen {
	end := opts.End.In(loc).Truncate(time.Second)
	g := &gen{
		r:      rand.New(rand.NewPCG(uint64(opts.Seed), 0x5a0107a2e5)),
		loc:    loc,
		start:  end.AddDate(0, 0, -opts.Days),
		end:    end,
		perDay: float64(opts.LeadsPerDay),
		team:   newTeam(),
		ids:    map[byte]int{},
		phones: map[string]bool{},
	}
	for _, p := range g.team {
		if p.salesRole == funnelwatch.SalesRoleConverter {
			g.converters = append(g.converters, p)
		}
	}
	g.mass = g.massMoment()
	return g
}

// person returns the team member with the id.
func (g *gen) person(id string) *person {
	for _, p := range g.team {
		if p.id == id {
			return p
		}
	}
	panic("demo: no person " + id) // a typo in this package, not bad input
}

// nextID returns the next id with the prefix: T100001, C100001, N100001.
func (g *gen) nextID(prefix byte) string {
	g.ids[prefix]++
	return fmt.Sprintf("%c%d", prefix, 100000+g.ids[prefix])
}

// midnight returns the start of t's day in the company's timezone.
func (g *gen) midnight(t time.Time) time.Time {
	t = t.In(g.loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, g.loc)
}

// working reports whether p works at t.
func (g *gen) working(p *person, t time.Time) bool {
	t = t.In(g.loc)
	return p.onShift(t) && t.Hour() >= openHour && t.Hour() < closeHour
}

// work returns the first moment at or after t when p works; a person who
// had to wait for the morning starts within the first 20 minutes.
func (g *gen) work(p *person, t time.Time) time.Time {
	t = t.In(g.loc).Truncate(time.Second)
	for range 12 {
		day := g.midnight(t)
		if p.onShift(day) {
			open, closing := day.Add(openHour*time.Hour), day.Add(closeHour*time.Hour)
			if t.Before(open) {
				return open.Add(minutes(g.r, 0, 20))
			}
			if t.Before(closing) {
				return t
			}
		}
		t = day.AddDate(0, 0, 1)
	}
	return t
}

// due returns the due time of a task set for p at from, d ahead; one that
// would fall outside p's working time moves to p's next working day.
func (g *gen) due(p *person, from time.Time, d time.Duration) time.Time {
	t := from.Add(d)
	if g.working(p, t) {
		return t
	}
	next := g.work(p, t)
	return g.midnight(next).Add(openHour*time.Hour + min(d, time.Hour) + 45*time.Minute)
}

// habitsOf returns p's habits at t: the manager of the mass closing is
// swamped in the two weeks before it and lets deals hang.
func (g *gen) habitsOf(p *person, t time.Time) habits {
	h := p.h
	if p.id == g.mass.user && !g.mass.at.IsZero() && t.Before(g.mass.at) && t.After(g.mass.at.AddDate(0, 0, -14)) {
		h.hangTarget, h.hangReady, h.forget = 0.3, 0.35, 0.06
	}
	return h
}

// massMoment picks the evening of the mass closing: the last working day
// of its manager at least 16 days before the end.
func (g *gen) massMoment() massClosing {
	p := g.person(massID)
	day := g.midnight(g.end.AddDate(0, 0, -16))
	for range 7 {
		if p.onShift(day) && !p.onShift(day.AddDate(0, 0, 1)) {
			break
		}
		day = day.AddDate(0, 0, -1)
	}
	at := day.Add(20*time.Hour + 31*time.Minute + 17*time.Second)
	if at.Before(g.start.AddDate(0, 0, 21)) {
		return massClosing{} // too short a history for a pile to build up
	}
	return massClosing{user: p.id, at: at}
}

// pickManager returns the sales manager who gets a lead arriving at t:
// round robin among those on the shift of the next working moment.
func (g *gen) pickManager(t time.Time) *person {
	day := g.companyDay(t)
	var on []*person
	for _, p := range g.converters {
		if p.onShift(day) {
			on = append(on, p)
		}
	}
	g.rr++
	return on[g.rr%len(on)]
}

// companyDay returns the day of the company's next working moment at or
// after t: a lead of the late evening is the next morning's.
func (g *gen) companyDay(t time.Time) time.Time {
	day := g.midnight(t)
	if t.In(g.loc).Hour() >= closeHour {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

// newDeal starts a deal story for a client.
func (g *gen) newDeal(c client, l lead) *deal {
	d := &deal{g: g, r: g.r, id: fmt.Sprintf("D%d", 10001+len(g.deals)), client: c, lead: l}
	g.deals = append(g.deals, d)
	return d
}

// newClient returns a client with a fresh mobile number, written the way
// people write it.
func (g *gen) newClient(form string) client {
	r := g.r
	var digits string
	for {
		digits = fmt.Sprintf("9%02d%07d", r.IntN(90)+10, r.IntN(10_000_000))
		if !g.phones[digits] {
			g.phones[digits] = true
			break
		}
	}
	c := client{e164: "+7" + digits}
	a, b, cc, dd := digits[:3], digits[3:6], digits[6:8], digits[8:]
	switch r.IntN(6) {
	case 0, 1:
		c.phone = c.e164
	case 2:
		c.phone = fmt.Sprintf("+7 (%s) %s-%s-%s", a, b, cc, dd)
	case 3:
		c.phone = fmt.Sprintf("8 (%s) %s-%s-%s", a, b, cc, dd)
	case 4:
		c.phone = "8" + digits
	default:
		c.phone = fmt.Sprintf("+7 %s %s %s %s", a, b, cc, dd)
	}
	female := chance(r, 0.22)
	first := pick(r, maleNames)
	if female {
		first = pick(r, femaleNames)
	}
	switch form {
	case "avito": // what the Avito profile shows
		c.name = first
		if chance(r, 0.3) {
			c.name += " " + strings.Split(surname(r, female), "")[0] + "."
		}
	case "site":
		c.name = surname(r, female) + " " + first
		if !female && chance(r, 0.4) {
			c.name += " " + pick(r, patronymics)
		}
		if chance(r, 0.5) {
			c.email = fmt.Sprintf("client%s@example.com", digits[5:])
		}
	default:
		c.name = first + " " + surname(r, female)
	}
	return c
}

// run plays the history day by day.
func (g *gen) run() {
	for day := g.midnight(g.start); !day.After(g.end); day = day.AddDate(0, 0, 1) {
		g.day(day)
	}
	g.closeMass()
}

// weekday factors of the lead flow: Mondays are busiest.
var weekdayLoad = [7]float64{0.75, 1.15, 1.1, 1.05, 1.0, 0.95, 0.8} // Sunday first

// hourLoad is when leads arrive, by hour: most in working hours, some at
// night from the Avito chats.
var hourLoad = [24]float64{1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 4, 8, 10, 10, 9, 8, 8, 8, 8, 9, 9, 8, 6, 4, 3, 2}

// arrival is a lead of the day, before it is played.
type arrival struct {
	at   time.Time
	kind string
}

// day plays the leads arriving on one day, in time order.
func (g *gen) day(day time.Time) {
	r := g.r
	load := weekdayLoad[day.Weekday()] * (0.85 + 0.3*r.Float64())
	n := int(math.Round(g.perDay * load))
	var arr []arrival
	for range n {
		kind := "avito"
		switch x := r.Float64(); {
		case x < 0.22:
			kind = "phone"
		case x < 0.35:
			kind = "site"
		case x < 0.45:
			kind = "repeat"
		}
		arr = append(arr, arrival{g.leadTime(day, kind != "avito"), kind})
	}
	weekday := day.Weekday() != time.Saturday && day.Weekday() != time.Sunday
	side := g.perDay / DefaultLeadsPerDay
	others := []struct {
		kind string
		rate float64
	}{{"wholesale", 0.6}, {"warranty", 0.4}, {"buyback", 0.5}, {"couriers", 3}}
	for _, o := range others {
		rate := o.rate * side
		if !weekday {
			rate /= 3
		}
		for k := int(rate); k >= 0; k-- {
			if k > 0 || chance(r, rate-math.Floor(rate)) {
				arr = append(arr, arrival{g.leadTime(day, true), o.kind})
			}
		}
	}
	slices.SortStableFunc(arr, func(a, b arrival) int { return a.at.Compare(b.at) })
	for _, a := range arr {
		if a.at.Before(g.start) || a.at.After(g.end) {
			continue
		}
		switch a.kind {
		case "avito":
			g.avitoLead(a.at)
		case "phone":
			g.phoneLead(a.at)
		case "site":
			g.siteLead(a.at)
		case "repeat":
			g.repeatLead(a.at)
		case "wholesale":
			g.wholesaleLead(a.at)
		case "warranty":
			g.warrantyCase(a.at)
		case "buyback":
			g.buybackLead(a.at)
		case "couriers":
			g.courierCall(a.at)
		}
	}
}

// leadTime returns a random moment of the day; business leads (calls,
// forms) keep to the daytime.
func (g *gen) leadTime(day time.Time, daytime bool) time.Time {
	total := 0.0
	for h, w := range hourLoad {
		if daytime && (h < 8 || h > 21) {
			continue
		}
		total += w
	}
	x := g.r.Float64() * total
	hour := 0
	for h, w := range hourLoad {
		if daytime && (h < 8 || h > 21) {
			continue
		}
		if x < w {
			hour = h
			break
		}
		x -= w
		hour = h
	}
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(g.r.IntN(3600))*time.Second)
}

// flatten returns every deal's events in one log sorted by time (stable:
// a deal's events keep their order), with their ids.
func (g *gen) flatten() []funnelwatch.Event {
	type key struct {
		at   int64
		i    int32 // position in deal order: ties keep it
		deal int32
		ev   int32
	}
	var keys []key
	for di, d := range g.deals {
		for ei := range d.events {
			keys = append(keys, key{d.events[ei].At.UnixNano(), int32(len(keys)), int32(di), int32(ei)})
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return cmp.Compare(a.i, b.i)
	})
	all := make([]funnelwatch.Event, len(keys))
	for n, k := range keys {
		all[n] = g.deals[k.deal].events[k.ev]
		all[n].ID = fmt.Sprintf("demo-%06d", n+1)
	}
	return all
}
