package demo

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/funnelwatch/funnelwatch"
)

// person is a member of the demo team, as regulations.yaml declares them,
// with the habits the generator plays for them.
type person struct {
	id        string
	female    bool // for the verbs of what they write: «Дозвонился» or «Дозвонилась»
	salesRole string
	shift     funnelwatch.Schedule // zero: every day
	h         habits
}

// habits are a person's probabilities of doing things well or badly. The
// seeds' story: most of the team is decent, Roman «вообще не понимал, что
// такое CRM» and makes about half of the team's violations.
type habits struct {
	respond    float64 // median minutes to the first call on a new lead
	late       float64 // share of tasks done after their due time
	forget     float64 // share of tasks never done: the deal hangs with an overdue task
	hangTarget float64 // share of unanswered first calls after which no task is set
	hangReady  float64 // share of deals left on «Готов к выдаче» without a task
	slowBack   float64 // share of missed calls returned after 40+ minutes
	neverBack  float64 // share of missed calls never returned (the deal hangs)
	emptyNote  float64 // share of notes that say nothing («Связался»)
	reschedule float64 // share of tasks rescheduled again and again without a call
	noReason   float64 // share of losses without a reason
	junk       float64 // share of deals with a junk value in a custom field
	backward   float64 // share of ready deals moved back a stage
	noAmount   float64 // share of deals moved to «Готов к выдаче» without an amount
	paidStuck  float64 // share of prepaid deals left on «Квалификация проведена»
}

// decent is a manager who mostly follows the regulations.
var decent = habits{
	respond: 3, late: 0.025, forget: 0.006, hangTarget: 0.04, hangReady: 0.05,
	slowBack: 0.04, neverBack: 0.01, emptyNote: 0.06, reschedule: 0.006,
	noReason: 0.008, junk: 0.003, backward: 0.012, noAmount: 0.01, paidStuck: 0.04,
}

// sloppy is Roman.
var sloppy = habits{
	respond: 11, late: 0.35, forget: 0.07, hangTarget: 0.25, hangReady: 0.3,
	slowBack: 0.35, neverBack: 0.14, emptyNote: 0.55, reschedule: 0.08,
	noReason: 0.12, junk: 0.05, backward: 0.05, noAmount: 0.1, paidStuck: 0.2,
}

// careful is for the qualifier, the warmer and the head of sales.
var careful = habits{
	respond: 2, late: 0.012, forget: 0.002, emptyNote: 0.03, reschedule: 0.003,
	slowBack: 0.03, neverBack: 0.005, noReason: 0.005,
}

// with returns h changed by f, for the managers who differ a little.
func with(h habits, f func(*habits)) habits {
	f(&h)
	return h
}

// The two shifts of the 3/3 schedule, as in regulations.yaml.
var (
	shift1 = funnelwatch.Schedule{OnDays: 3, OffDays: 3, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	shift2 = funnelwatch.Schedule{OnDays: 3, OffDays: 3, Start: time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)}
)

// Ids of the people the story names.
const (
	headID      = "sergey"
	romanID     = "roman"
	qualifierID = "kirill"
	warmerID    = "vera"
	massID      = "ivan" // closes a pile of deals at once (the seed's «просто закрыли часть сделок»)
)

// newTeam returns the team in the order of regulations.yaml.
func newTeam() []*person {
	return []*person{
		{id: headID, h: careful},
		{id: romanID, salesRole: funnelwatch.SalesRoleConverter, shift: shift1, h: sloppy},
		{id: "anna", female: true, salesRole: funnelwatch.SalesRoleConverter, shift: shift1, h: decent},
		{id: "dmitry", salesRole: funnelwatch.SalesRoleConverter, shift: shift1,
			h: with(decent, func(h *habits) { h.late, h.respond = 0.04, 4 })},
		{id: "elena", female: true, salesRole: funnelwatch.SalesRoleConverter, shift: shift1,
			h: with(decent, func(h *habits) { h.emptyNote = 0.12 })},
		{id: massID, salesRole: funnelwatch.SalesRoleConverter, shift: shift2,
			h: with(decent, func(h *habits) { h.hangReady, h.noReason = 0.07, 0.02 })},
		{id: "maria", female: true, salesRole: funnelwatch.SalesRoleConverter, shift: shift2,
			h: with(decent, func(h *habits) { h.late, h.forget = 0.025, 0.004 })},
		{id: "pavel", salesRole: funnelwatch.SalesRoleConverter, shift: shift2,
			h: with(decent, func(h *habits) { h.slowBack, h.respond = 0.08, 4 })},
		{id: "olga", female: true, salesRole: funnelwatch.SalesRoleConverter, shift: shift2, h: decent},
		{id: qualifierID, salesRole: funnelwatch.SalesRoleQualifier, h: careful},
		{id: warmerID, female: true, salesRole: funnelwatch.SalesRoleWarmer, h: careful},
	}
}

// Texts mark the verbs that agree with their author: "Дозвонил{ся},
// выяснил{а} потребность".
var (
	heSays  = strings.NewReplacer("{а}", "", "{ся}", "ся")
	sheSays = strings.NewReplacer("{а}", "а", "{ся}", "ась")
)

// say returns text as the person with the id writes it.
func (g *gen) say(id, text string) string {
	if !strings.Contains(text, "{") {
		return text
	}
	for _, p := range g.team {
		if p.id == id && p.female {
			return sheSays.Replace(text)
		}
	}
	return heSays.Replace(text)
}

// onShift reports whether p works on the calendar day of t.
func (p *person) onShift(t time.Time) bool { return p.shift.OnShift(t) }

// Working hours of the company (regulations.yaml: working_hours).
const (
	openHour  = 9
	closeHour = 21
)

// client is the person behind a lead.
type client struct {
	name  string // as the source wrote it
	phone string // as the source wrote it
	e164  string // as the telephony writes it
	email string
}

var (
	maleNames = []string{"Александр", "Алексей", "Андрей", "Артём", "Борис", "Вадим", "Виктор", "Владимир",
		"Геннадий", "Георгий", "Денис", "Евгений", "Игорь", "Илья", "Константин", "Максим", "Михаил",
		"Никита", "Николай", "Олег", "Руслан", "Сергей", "Станислав", "Тимур", "Фёдор", "Юрий", "Ярослав",
		"Азат", "Рустам", "Армен", "Эдуард", "Роберт", "Василий", "Павел", "Антон"}
	femaleNames = []string{"Анастасия", "Валентина", "Галина", "Дарья", "Екатерина", "Ирина", "Ксения",
		"Лариса", "Марина", "Наталья", "Оксана", "Светлана", "Татьяна", "Юлия", "Виктория"}
	patronymics = []string{"Александрович", "Сергеевич", "Викторович", "Петрович", "Николаевич",
		"Игоревич", "Владимирович", "Олегович", "Юрьевич", "Анатольевич"}
	surnames = []string{"Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов",
		"Михайлов", "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
		"Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров",
		"Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов", "Воробьёв", "Сергеев",
		"Фролов", "Гусев", "Титов", "Комаров", "Киселёв", "Медведев", "Гарипов", "Хабибуллин", "Ахметов",
		"Шевчук", "Саркисян", "Коваленко", "Ткаченко", "Полянский", "Вишневский"}
	companies = []string{"ООО «Пневмосервис-Юг»", "ИП Гарипов Р. Р.", "ООО «АвтоПнев»", "ООО «Подвеска 77»",
		"ООО «ТехЦентр Ривьера»", "ИП Шевчук А. В.", "ООО «Регион-Авто Воронеж»", "ООО «СТО Восток»",
		"ООО «Премиум Сервис Казань»", "ООО «Эйр-Драйв»", "ИП Ахметов Т. Ф.", "ООО «Автодеталь-НН»"}
)

// surname returns a surname in the form of the gender.
func surname(r *rand.Rand, female bool) string {
	s := pick(r, surnames)
	if !female {
		return s
	}
	switch {
	case hasSuffix(s, "ский"):
		return s[:len(s)-len("ий")] + "ая"
	case hasSuffix(s, "ов"), hasSuffix(s, "ев"), hasSuffix(s, "ёв"), hasSuffix(s, "ин"):
		return s + "а"
	}
	return s
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// pick returns a random element of list.
func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// minutes returns a random duration between lo and hi minutes, to the second.
func minutes(r *rand.Rand, lo, hi float64) time.Duration {
	return time.Duration((lo + (hi-lo)*r.Float64()) * float64(time.Minute)).Truncate(time.Second)
}

// lognormal returns a random duration around median minutes, spread by
// the factor (1 < spread) one time in three, to the second.
func lognormal(r *rand.Rand, median, spread float64) time.Duration {
	f := math.Exp(r.NormFloat64() * math.Log(spread))
	return time.Duration(median * f * float64(time.Minute)).Truncate(time.Second)
}
